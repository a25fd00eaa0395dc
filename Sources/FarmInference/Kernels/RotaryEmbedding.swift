import Foundation

/// A token's place for rotary embeddings: time in video-frame units (fractions allowed), row and column in
/// patch units. Audio tokens use time only (row and column 0 leave those pairs unrotated).
public struct TokenPosition: Hashable, Sendable {
    public var t: Float
    public var h: Float
    public var w: Float
    public init(t: Float, h: Float = 0, w: Float = 0) {
        self.t = t
        self.h = h
        self.w = w
    }
}

/// Rotary position embeddings over three axes (t, h, w), precomputed per token.
///
/// A head of `headDim` floats is cut into adjacent pairs: the first `axes.t / 2` pairs turn with time, the next
/// `axes.h / 2` with the row, the last `axes.w / 2` with the column. Pair `i` of an axis of `d` dimensions turns
/// by `position · base^(-2i/d)`. Video uses all three axes, audio only time, in the same frame units, so a sound
/// token and a picture token at the same instant are rotated alike on the time pairs.
public struct RotaryEmbedding: Sendable {
    /// Dimensions of a head given to each axis (each even, summing to the head size).
    public struct Axes: Hashable, Sendable {
        public var t: Int
        public var h: Int
        public var w: Int
        /// The split used by the model: rows and columns get `2 · (headDim / 6)` each, time the rest.
        public init(headDim: Int) {
            h = 2 * (headDim / 6)
            w = h
            t = headDim - 2 * h
        }
    }

    public static let base: Double = 10_000

    public let headDim: Int
    public let axes: Axes
    /// Per token, `headDim / 2` cosines then (in `sin`) sines.
    public let cos: FloatBuffer
    public let sin: FloatBuffer
    /// Per token, `headDim` floats laid out for eight-lane rotation: cosines doubled (`c0 c0 c1 c1 …`) and sines
    /// signed (`-s0 s0 -s1 s1 …`), so a rotated vector is `x · cosPairs + swapPairs(x) · sinPairs`.
    let cosPairs: FloatBuffer
    let sinPairs: FloatBuffer
    public let tokens: Int

    /// Tables for `positions` (one per token, in the stream's row order).
    public init(positions: [TokenPosition], headDim: Int) {
        precondition(headDim % 2 == 0 && headDim >= 6, "RotaryEmbedding: head size \(headDim) must be even and ≥ 6")
        self.headDim = headDim
        axes = Axes(headDim: headDim)
        tokens = positions.count
        let half = headDim / 2
        cos = FloatBuffer(count: positions.count * half)
        sin = FloatBuffer(count: positions.count * half)
        cosPairs = FloatBuffer(count: positions.count * headDim)
        sinPairs = FloatBuffer(count: positions.count * headDim)
        let freqs = Self.frequencies(axes)
        for (n, p) in positions.enumerated() {
            for i in 0..<half {
                let (axis, f) = freqs[i]
                let pos = Double(axis == 0 ? p.t : axis == 1 ? p.h : p.w)
                let (c, s) = (Float(Foundation.cos(pos * f)), Float(Foundation.sin(pos * f)))
                cos.base[n * half + i] = c
                sin.base[n * half + i] = s
                cosPairs.base[n * headDim + 2 * i] = c
                cosPairs.base[n * headDim + 2 * i + 1] = c
                sinPairs.base[n * headDim + 2 * i] = -s
                sinPairs.base[n * headDim + 2 * i + 1] = s
            }
        }
    }

    /// For each pair: which axis (0 t, 1 h, 2 w) and its angular frequency.
    static func frequencies(_ axes: Axes) -> [(Int, Double)] {
        var out: [(Int, Double)] = []
        for (axis, d) in [axes.t, axes.h, axes.w].enumerated() {
            for i in 0..<(d / 2) { out.append((axis, Foundation.pow(base, -2 * Double(i) / Double(d)))) }
        }
        return out
    }

    /// Rotates every head of `rows` rows of `x` (row stride `ld`, `heads · headDim` floats used) in place, using the
    /// tables of tokens `first ..< first + rows`: pair `(a, b)` becomes `(a·c - b·s, a·s + b·c)`.
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, ld: Int, heads: Int, first: Int = 0) {
        #if DEBUG
        applyScalar(x, rows: rows, ld: ld, heads: heads, first: first)
        #else
        applyVector(x, rows: rows, ld: ld, heads: heads, first: first)
        #endif
    }

    /// Eight lanes (four pairs) at a time; the same bits as ``applyScalar``.
    func applyVector(_ x: UnsafeMutablePointer<Float>, rows: Int, ld: Int, heads: Int, first: Int) {
        precondition(first >= 0 && first + rows <= tokens)
        typealias V = VectorMath.V
        for r in 0..<rows {
            let c = cosPairs.base + (first + r) * headDim
            let s = sinPairs.base + (first + r) * headDim
            for h in 0..<heads {
                let p = x + r * ld + h * headDim
                var i = 0
                while i + 8 <= headDim {
                    let v = VectorMath.load(p + i)
                    let swapped = V(v[1], v[0], v[3], v[2], v[5], v[4], v[7], v[6])
                    VectorMath.store(v * VectorMath.load(c + i) + swapped * VectorMath.load(s + i), p + i)
                    i += 8
                }
                while i < headDim {
                    let (a, b) = (p[i], p[i + 1])
                    p[i] = a * c[i] + b * s[i]
                    p[i + 1] = b * c[i + 1] + a * s[i + 1]
                    i += 2
                }
            }
        }
    }

    /// One pair at a time (what unoptimised builds run).
    func applyScalar(_ x: UnsafeMutablePointer<Float>, rows: Int, ld: Int, heads: Int, first: Int) {
        precondition(first >= 0 && first + rows <= tokens)
        for r in 0..<rows {
            let c = cosPairs.base + (first + r) * headDim
            let s = sinPairs.base + (first + r) * headDim
            for h in 0..<heads {
                let p = x + r * ld + h * headDim
                for i in stride(from: 0, to: headDim, by: 2) {
                    let (a, b) = (p[i], p[i + 1])
                    p[i] = a * c[i] + b * s[i]
                    p[i + 1] = b * c[i + 1] + a * s[i + 1]
                }
            }
        }
    }
}
