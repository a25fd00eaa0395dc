/// Elementwise kernels on raw Float32 runs, eight lanes at a time.
///
/// `exp` is a Cephes-style polynomial (relative error ≈ 1.2e-7 over the range that matters), used by softmax,
/// GELU and SiLU alike so that every nonlinearity costs a handful of vector instructions per eight floats.
/// Tails shorter than eight go through the same polynomial on a padded vector, so a value never depends on its
/// position in a row.
///
/// Unoptimised (debug) builds run the exp-heavy kernels through scalar twins of the same arithmetic, in the same
/// order (sums keep eight lane accumulators), because generic SIMD code is two orders of magnitude slower there;
/// both paths give the same bits, which a test checks.
public enum VectorMath {
    public typealias V = SIMD8<Float>
    static let width = 8

    /// `e^x` for eight lanes; inputs are clamped to [-87, 88].
    @inline(__always)
    public static func exp(_ v: V) -> V {
        var x = v.replacing(with: -87, where: v .< -87)
        x = x.replacing(with: 88, where: x .> 88)
        let magic = V(repeating: 12_582_912)  // 1.5 · 2^23: adding it rounds to an integer in the low mantissa
        let t = x * 1.442_695_04 + magic
        let n = t - magic
        x = x - n * 0.693_359_375 - n * (-2.121_944_4e-4)
        var p = V(repeating: 1.987_569_15e-4)
        p = p * x + 1.398_199_95e-3
        p = p * x + 8.333_451_9e-3
        p = p * x + 4.166_579_59e-2
        p = p * x + 1.666_666_55e-1
        p = p * x + 5.000_000_12e-1
        p = p * x * x + x + 1
        let k = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        return p * unsafeBitCast((k &+ 127) &<< 23, to: V.self)
    }

    /// `e^x` for one float: the vector form's arithmetic, one lane.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        var x = x < -87 ? -87 : x
        x = x > 88 ? 88 : x
        let t = x * 1.442_695_04 + 12_582_912
        let n = t - 12_582_912
        x = x - n * 0.693_359_375 - n * (-2.121_944_4e-4)
        var p: Float = 1.987_569_15e-4
        p = p * x + 1.398_199_95e-3
        p = p * x + 8.333_451_9e-3
        p = p * x + 4.166_579_59e-2
        p = p * x + 1.666_666_55e-1
        p = p * x + 5.000_000_12e-1
        p = p * x * x + x + 1
        let k = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        return p * Float(bitPattern: UInt32(bitPattern: (k &+ 127) &<< 23))
    }

    /// Sum of the eight lanes, left to right (the order both paths use).
    @inline(__always)
    static func lanes(_ v: V) -> Float { ((((((v[0] + v[1]) + v[2]) + v[3]) + v[4]) + v[5]) + v[6]) + v[7] }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    @inline(__always) static func loadTail(_ p: UnsafePointer<Float>, _ n: Int, pad: Float) -> V {
        var v = V(repeating: pad)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always) static func storeTail(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }

    /// Applies `f` to `count` floats in place, eight at a time.
    @inline(__always)
    static func map(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ f: (V) -> V) {
        var i = 0
        while i + width <= count {
            store(f(load(p + i)), p + i)
            i += width
        }
        if i < count { storeTail(f(loadTail(p + i, count - i, pad: 0)), p + i, count - i) }
    }

    /// `x · sigmoid(1.5957691 · (x + 0.044715 x³))`, the tanh form of GELU.
    @inline(__always)
    public static func gelu(_ x: V) -> V {
        let u = x * (x * x * 0.044_715 + 1) * -1.595_769_1
        return x / (exp(u) + 1)
    }

    /// `x · sigmoid(x)`.
    @inline(__always)
    public static func silu(_ x: V) -> V { x / (exp(-x) + 1) }

    /// GELU of one float: the vector form's arithmetic, one lane.
    @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        let u = x * (x * x * 0.044_715 + 1) * -1.595_769_1
        return x / (exp(u) + 1)
    }

    /// SiLU of one float.
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (exp(-x) + 1) }

    /// GELU of `count` floats in place.
    public static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        #if DEBUG
        for i in 0..<count { p[i] = gelu(p[i]) }
        #else
        map(p, count, gelu)
        #endif
    }

    /// SiLU of `count` floats in place.
    public static func silu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        #if DEBUG
        for i in 0..<count { p[i] = silu(p[i]) }
        #else
        map(p, count, silu)
        #endif
    }

    /// Largest of `count` floats (`-inf` when empty).
    @inline(__always)
    public static func max(_ p: UnsafePointer<Float>, count: Int) -> Float {
        #if DEBUG
        var best = -Float.infinity
        for i in 0..<count where p[i] > best { best = p[i] }
        return best
        #else
        var m = V(repeating: -.infinity)
        var i = 0
        while i + width <= count {
            let x = load(p + i)
            m = m.replacing(with: x, where: x .> m)
            i += width
        }
        if i < count {
            let x = loadTail(p + i, count - i, pad: -.infinity)
            m = m.replacing(with: x, where: x .> m)
        }
        return m.max()
        #endif
    }

    /// Replaces each `x` by `e^(x - shift)` and returns their sum.
    @inline(__always)
    public static func expShifted(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        #if DEBUG
        expShiftedScalar(p, count: count, shift: shift)
        #else
        expShiftedVector(p, count: count, shift: shift)
        #endif
    }

    @inline(__always)
    static func expShiftedVector(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        var sum = V()
        let s = V(repeating: shift)
        var i = 0
        while i + width <= count {
            let e = exp(load(p + i) - s)
            store(e, p + i)
            sum += e
            i += width
        }
        if i < count {
            let e = exp(loadTail(p + i, count - i, pad: -.infinity) - s)
            storeTail(e, p + i, count - i)
            sum += e.replacing(with: 0, where: mask(count - i))
        }
        return lanes(sum)
    }

    static func expShiftedScalar(_ p: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { acc in
            acc.initialize(repeating: 0)
            for i in 0..<count {
                p[i] = exp(p[i] - shift)
                acc[i % width] += p[i]
            }
            return ((((((acc[0] + acc[1]) + acc[2]) + acc[3]) + acc[4]) + acc[5]) + acc[6]) + acc[7]
        }
    }

    /// Lanes at and beyond `n` set.
    @inline(__always) static func mask(_ n: Int) -> SIMDMask<SIMD8<Int32>> {
        SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .>= SIMD8<Int32>(repeating: Int32(n))
    }

    /// `y[i] = a · y[i]` for `count` floats.
    @inline(__always)
    public static func scale(_ p: UnsafeMutablePointer<Float>, count: Int, by a: Float) {
        map(p, count) { $0 * a }
    }

    /// `y[i] += x[i]` for `count` floats.
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + width <= count {
            store(load(y + i) + load(x + i), y + i)
            i += width
        }
        while i < count {
            y[i] += x[i]
            i += 1
        }
    }

    /// Copies `bias` (`n` floats) into each of `rows` rows of `y` (row stride `ld`).
    public static func broadcastRows(
        _ bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, n: Int,
        ld: Int
    ) {
        for r in 0..<rows { (y + r * ld).update(from: bias, count: n) }
    }

    /// `y[r, j] += bias[j]` for `rows` rows of `n` floats (row stride `ld`).
    public static func addRows(
        _ bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, n: Int,
        ld: Int
    ) {
        for r in 0..<rows { add(bias, into: y + r * ld, count: n) }
    }
}

extension VectorMath {
    /// `x[r, j] += gate[j] · (y[r, j] + bias[j])` for `rows` dense rows of `n` floats: adaLN-Zero's gated
    /// residual, with the preceding linear layer's bias folded in.
    public static func addGated(
        _ y: UnsafePointer<Float>, bias: UnsafePointer<Float>, gate: UnsafePointer<Float>,
        into x: UnsafeMutablePointer<Float>, rows: Int, n: Int
    ) {
        for r in 0..<rows {
            let yr = y + r * n
            let xr = x + r * n
            var i = 0
            while i + width <= n {
                store(load(xr + i) + load(gate + i) * (load(yr + i) + load(bias + i)), xr + i)
                i += width
            }
            while i < n {
                xr[i] += gate[i] * (yr[i] + bias[i])
                i += 1
            }
        }
    }

    /// `y[r, j] = GELU(y[r, j] + bias[j])` for `rows` dense rows of `n` floats.
    public static func biasGELU(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows {
            let yr = y + r * n
            add(bias, into: yr, count: n)
            gelu(yr, count: n)
        }
    }
}
