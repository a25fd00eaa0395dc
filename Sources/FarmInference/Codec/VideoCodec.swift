/// Latents ↔ RGB: a learned linear map per 8×8 pixel block (a stand-in for a video VAE, same interface).
///
/// The grid is causal: latent step 0 stands for local frame 0, step `j ≥ 1` for frames `4j-3 … 4j`. The decoder
/// has one projection per sub-frame (`C → 8·8·3`); frame `f` is sub-frame `(f + 3) % 4` of step `(f + 3) / 4`,
/// so frame `4j`, the one a step stands for, is sub-frame 3. Pixels map to [-1, 1] as `byte / 127.5 - 1`. The
/// encoder maps an image's 8×8 blocks back to a latent (the least-squares inverse of sub-frame 3 in seeded
/// weights), for keyframes and grid references.
public struct VideoCodec: @unchecked Sendable {
    public let config: MMDiTConfig
    let decode: UnsafePointer<Float>
    let decodeBias: UnsafePointer<Float>
    let encode: Linear

    static let pixels = MMDiTConfig.spatialStride * MMDiTConfig.spatialStride * 3

    public init(weights: ModelWeights) {
        config = weights.config
        decode = UnsafePointer(weights.pointer("codec.video.decode.weight"))
        decodeBias = UnsafePointer(weights.pointer("codec.video.decode.bias"))
        encode = Linear(weights, "codec.video.encode")
    }

    /// Which latent step and sub-frame local frame `frame` comes from.
    public static func source(ofFrame frame: Int) -> (step: Int, subFrame: Int) {
        ((frame + 3) / MMDiTConfig.temporalStride, (frame + 3) % MMDiTConfig.temporalStride)
    }

    /// Appends local frames `frames` decoded from `latents` (`[T, C, h, w]`) to `out`.
    public func decode<Sink: VideoFramesSink>(
        _ latents: [Float], height h: Int, width w: Int, frames: Range<Int>,
        into out: inout Sink
    ) {
        let c = config.videoChannels
        let n = h * w
        let px = Self.pixels
        let gathered = FloatBuffer(count: n * c)
        let block = FloatBuffer(count: n * px)
        latents.withUnsafeBufferPointer { z in
            for f in frames {
                let (j, sub) = Self.source(ofFrame: f)
                precondition(j * c * n + c * n <= z.count, "VideoCodec: frame \(f) needs latent step \(j)")
                for ch in 0..<c { for i in 0..<n { gathered.base[i * c + ch] = z[(j * c + ch) * n + i] } }
                VectorMath.broadcastRows(decodeBias + sub * px, into: block.base, rows: n, n: px, ld: px)
                BLAS.gemm(
                    .none, .transposed, m: n, n: px, k: c, a: gathered.base, lda: c, b: decode + sub * px * c, ldb: c,
                    beta: 1, c: block.base, ldc: px)
                out.appendFrame(width: w * 8, height: h * 8) { rgb in
                    for y in 0..<h {
                        for x in 0..<w {
                            let src = block.base + (y * w + x) * px
                            for dy in 0..<8 {
                                for dx in 0..<8 {
                                    let dst = ((8 * y + dy) * (8 * w) + 8 * x + dx) * 3
                                    for k in 0..<3 { rgb[dst + k] = Self.byte(src[(dy * 8 + dx) * 3 + k]) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) static func byte(_ v: Float) -> UInt8 {
        let b = ((v + 1) * 127.5).rounded()
        return UInt8(Swift.min(Swift.max(b, 0), 255))
    }

    /// The latent (`[C, h, w]`) of one RGB24 image of `width × height` (multiples of 8).
    public func encode(rgb: [UInt8], width: Int, height: Int) -> [Float] {
        precondition(width % 8 == 0 && height % 8 == 0 && rgb.count == width * height * 3, "VideoCodec: bad image")
        let (h, w, c, px) = (height / 8, width / 8, config.videoChannels, Self.pixels)
        let blocks = FloatBuffer(count: h * w * px)
        let z = FloatBuffer(count: h * w * c)
        for y in 0..<h {
            for x in 0..<w {
                let dst = blocks.base + (y * w + x) * px
                for dy in 0..<8 {
                    for dx in 0..<8 {
                        let src = ((8 * y + dy) * width + 8 * x + dx) * 3
                        for k in 0..<3 { dst[(dy * 8 + dx) * 3 + k] = Float(rgb[src + k]) / 127.5 - 1 }
                    }
                }
            }
        }
        encode.apply(blocks.base, rows: h * w, into: z.base)
        var out = [Float](repeating: 0, count: c * h * w)
        for i in 0..<h * w { for ch in 0..<c { out[ch * h * w + i] = z.base[i * c + ch] } }
        return out
    }
}

/// Where decoded frames go (``FarmCore/VideoFrames`` in the engine, anything frame-shaped in tests).
public protocol VideoFramesSink {
    mutating func appendFrame(width: Int, height: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void)
}
