import FarmCore

extension ModelWeights {
    /// Weights drawn from `seed`: the same seed gives the same bits on any machine.
    ///
    /// Each tensor is drawn from a counter-based generator keyed by the seed and the tensor's name, so a tensor's
    /// values do not depend on which tensors come before it. Draws are uniform with the standard deviation of the
    /// usual initialisations (`1/sqrt(fan_in)` for linear weights); unlike training-time adaLN-Zero, gates and
    /// final layers are not zeroed, so every weight changes the output and a reference comparison sees them all.
    /// The codec's encoders are the least-squares inverses of its decoders, so encoding a decoded latent gives
    /// the latent back.
    public static func seeded(_ config: MMDiTConfig, seed: UInt64) -> ModelWeights {
        precondition(config.problems.isEmpty, "MMDiTConfig \(config.name): \(config.problems)")
        let w = ModelWeights(config: config, metadata: ["reelfarm.seed": "\(seed)"])
        for p in w.layout.parameters where p.role != .encoder {
            let std: Float
            var mean: Float = 0
            switch p.role {
            case .linear: std = 1 / Float(p.shape[1]).squareRoot()
            case .bias: std = 0.02
            case .normWeight: (mean, std) = (1, 0.05)
            case .embedding: std = 1
            case .modulationOffset: std = 0.1
            // Sampled latents have a spread of a few units; these keep most pixels inside [0, 255] and the
            // sound around -20 dBFS instead of clipping.
            case .decoder: std = (p.name.hasPrefix("codec.audio") ? 0.05 : 0.25) / Float(p.shape[1]).squareRoot()
            case .encoder: std = 0
            }
            fill(w.pointer(p.name), count: p.count, key: seed ^ SeedDerivation.fnv1a(p.name), mean: mean, std: std)
        }
        let pixels = MMDiTConfig.spatialStride * MMDiTConfig.spatialStride * 3
        // The video encoder inverts the decoder's last sub-frame: the frame a latent step stands for.
        let last = (MMDiTConfig.temporalStride - 1) * pixels
        invert(
            decode: w.pointer("codec.video.decode.weight") + last * config.videoChannels,
            bias: w.pointer("codec.video.decode.bias") + last, rows: pixels, cols: config.videoChannels,
            encode: w.pointer("codec.video.encode.weight"), encodeBias: w.pointer("codec.video.encode.bias"))
        invert(
            decode: w.pointer("codec.audio.decode.weight"), bias: w.pointer("codec.audio.decode.bias"),
            rows: 2 * config.audioWindowPoints, cols: config.audioChannels,
            encode: w.pointer("codec.audio.encode.weight"), encodeBias: w.pointer("codec.audio.encode.bias"))
        return w
    }

    /// Uniform draws of the given mean and standard deviation; value `i` depends only on `key` and `i`.
    static func fill(_ p: UnsafeMutablePointer<Float>, count: Int, key: UInt64, mean: Float, std: Float) {
        let half = std * Float(3).squareRoot()
        let k = SeedDerivation.mix(key)
        for i in 0..<count {
            let bits = SeedDerivation.mix(k &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15) >> 40
            let u = Float(bits) / Float(1 << 24) * 2 - 1
            p[i] = mean + half * u
        }
    }

    /// `E = (DᵀD)⁻¹Dᵀ` and `e = -E·b` for a decoder `y = D z + b` with `D` of `rows × cols`.
    static func invert(
        decode d: UnsafePointer<Float>, bias b: UnsafePointer<Float>, rows: Int, cols: Int,
        encode e: UnsafeMutablePointer<Float>, encodeBias eb: UnsafeMutablePointer<Float>
    ) {
        var gram = [Double](repeating: 0, count: cols * cols)
        for i in 0..<cols {
            for j in 0..<cols {
                var s = 0.0
                for r in 0..<rows { s += Double(d[r * cols + i]) * Double(d[r * cols + j]) }
                gram[i * cols + j] = s
            }
        }
        let inv = invertMatrix(gram, n: cols)
        for i in 0..<cols {
            var bias = 0.0
            for r in 0..<rows {
                var s = 0.0
                for j in 0..<cols { s += inv[i * cols + j] * Double(d[r * cols + j]) }
                e[i * rows + r] = Float(s)
                bias -= s * Double(b[r])
            }
            eb[i] = Float(bias)
        }
    }

    /// Gauss–Jordan inverse with partial pivoting of an `n × n` matrix (small, well-conditioned Gram matrices).
    static func invertMatrix(_ m: [Double], n: Int) -> [Double] {
        var a = m
        var inv = [Double](repeating: 0, count: n * n)
        for i in 0..<n { inv[i * n + i] = 1 }
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
            if pivot != col {
                for j in 0..<n {
                    a.swapAt(col * n + j, pivot * n + j)
                    inv.swapAt(col * n + j, pivot * n + j)
                }
            }
            let p = a[col * n + col]
            precondition(p != 0, "invertMatrix: singular matrix")
            for j in 0..<n {
                a[col * n + j] /= p
                inv[col * n + j] /= p
            }
            for r in 0..<n where r != col {
                let f = a[r * n + col]
                if f == 0 { continue }
                for j in 0..<n {
                    a[r * n + j] -= f * a[col * n + j]
                    inv[r * n + j] -= f * inv[col * n + j]
                }
            }
        }
        return inv
    }
}
