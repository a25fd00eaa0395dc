/// Layer norm and RMS norm over rows of raw Float32 storage.
public enum Normalization {
    public typealias V = SIMD8<Float>
    /// Epsilon of every norm in the model (layer norms and the per-head RMS norms of queries and keys).
    public static let epsilon: Float = 1e-6

    /// Mean and `1/sqrt(var + eps)` of `n` floats (two passes, for accuracy).
    @inline(__always)
    static func moments(_ x: UnsafePointer<Float>, _ n: Int) -> (mean: Float, inv: Float) {
        var s = V()
        var i = 0
        while i + 8 <= n {
            s += VectorMath.load(x + i)
            i += 8
        }
        var sum = s.sum()
        while i < n {
            sum += x[i]
            i += 1
        }
        let mean = sum / Float(n)
        var q = V()
        let m = V(repeating: mean)
        i = 0
        while i + 8 <= n {
            let d = VectorMath.load(x + i) - m
            q += d * d
            i += 8
        }
        var sq = q.sum()
        while i < n {
            sq += (x[i] - mean) * (x[i] - mean)
            i += 1
        }
        return (mean, 1 / (sq / Float(n) + epsilon).squareRoot())
    }

    /// `out = LN(x) · (1 + scale) + shift` for `rows` rows of `n` floats (adaLN modulation, no affine weights).
    /// - Parameters:
    ///   - shift, scale: `n` floats each, shared by every row.
    public static func layerNormModulated(
        _ x: UnsafePointer<Float>, rows: Int, n: Int, shift: UnsafePointer<Float>, scale: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let xr = x + r * n
            let o = out + r * n
            let (mean, inv) = moments(xr, n)
            let m = V(repeating: mean)
            let s = V(repeating: inv)
            var i = 0
            while i + 8 <= n {
                let v = (VectorMath.load(xr + i) - m) * s
                VectorMath.store(v * (VectorMath.load(scale + i) + 1) + VectorMath.load(shift + i), o + i)
                i += 8
            }
            while i < n {
                o[i] = (xr[i] - mean) * inv * (scale[i] + 1) + shift[i]
                i += 1
            }
        }
    }

    /// `out = LN(x) · weight + bias` for `rows` rows of `n` floats (the text encoder's norms).
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, n: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let xr = x + r * n
            let o = out + r * n
            let (mean, inv) = moments(xr, n)
            for i in 0..<n { o[i] = (xr[i] - mean) * inv * weight[i] + bias[i] }
        }
    }

    /// RMS-normalises each `headDim` slice of `heads` heads in `rows` rows (row stride `ld`) in place, times
    /// `weight` (`headDim` floats): the per-head query/key norm.
    public static func rmsNormHeads(
        _ x: UnsafeMutablePointer<Float>, rows: Int, ld: Int, heads: Int, headDim: Int, weight: UnsafePointer<Float>
    ) {
        for r in 0..<rows {
            for h in 0..<heads {
                let p = x + r * ld + h * headDim
                #if DEBUG
                let sq = sumOfSquaresScalar(p, headDim)
                #else
                let sq = sumOfSquaresVector(p, headDim)
                #endif
                let inv = 1 / (sq / Float(headDim) + epsilon).squareRoot()
                var i = 0
                #if !DEBUG
                let s = V(repeating: inv)
                while i + 8 <= headDim {
                    VectorMath.store(VectorMath.load(p + i) * s * VectorMath.load(weight + i), p + i)
                    i += 8
                }
                #endif
                while i < headDim {
                    p[i] = p[i] * inv * weight[i]
                    i += 1
                }
            }
        }
    }

    /// Sum of squares with eight lane accumulators (element `i` into lane `i % 8`), lanes added left to right.
    @inline(__always)
    static func sumOfSquaresVector(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V()
        var i = 0
        while i + 8 <= n {
            let v = VectorMath.load(p + i)
            acc += v * v
            i += 8
        }
        if i < n {
            let v = VectorMath.loadTail(p + i, n - i, pad: 0)
            acc += v * v
        }
        return VectorMath.lanes(acc)
    }

    /// ``sumOfSquaresVector(_:_:)``'s arithmetic one float at a time.
    static func sumOfSquaresScalar(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8) { acc in
            acc.initialize(repeating: 0)
            for i in 0..<n { acc[i % 8] += p[i] * p[i] }
            return ((((((acc[0] + acc[1]) + acc[2]) + acc[3]) + acc[4]) + acc[5]) + acc[6]) + acc[7]
        }
    }
}
