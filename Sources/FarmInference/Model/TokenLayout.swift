/// How one model call's latents become tokens, and where each token sits in time and space.
///
/// Video latents `[T, C, h, w]` become `T · (h/2) · (w/2)` tokens (1×2×2 patches, row-major within a step); grid
/// references follow as `(h/2) · (w/2)` tokens each. Audio latents `[T, Ca, A]` become `T · A / audioPatch` tokens.
/// Times are local video-frame units: latent step `j` stands for the frame at `stepTimes[j]` (`4j` in a segment)
/// and its audio latents tile `[stepTimes[j] - 3, stepTimes[j] + 1)`, the four frames that step stands for, so the
/// audio token that starts at `stepTimes[j]` has exactly the video step's time. Reference `r` sits at time
/// `-8 (r + 1)`, before anything a clip holds.
public struct TokenLayout: Hashable, Sendable {
    public let config: MMDiTConfig
    /// Latent steps (T).
    public let steps: Int
    /// Latent rows and columns (the picture's size / 8).
    public let height: Int
    public let width: Int
    /// Local time of each latent step, in video frames.
    public let stepTimes: [Int]
    /// Grid reference images.
    public let references: Int

    /// - Precondition: `height` and `width` even, `stepTimes.count == steps`, at most 9 references.
    public init(config: MMDiTConfig, steps: Int, height: Int, width: Int, stepTimes: [Int]? = nil, references: Int = 0)
    {
        precondition(
            steps >= 1 && height >= 2 && width >= 2 && height % 2 == 0 && width % 2 == 0,
            "TokenLayout: \(steps) steps of \(height)×\(width) latents")
        precondition(references >= 0 && references <= MMDiTConfig.maxReferences)
        self.config = config
        self.steps = steps
        self.height = height
        self.width = width
        self.stepTimes = stepTimes ?? (0..<steps).map { MMDiTConfig.temporalStride * $0 }
        precondition(self.stepTimes.count == steps)
        self.references = references
    }

    public var patchesPerStep: Int { (height / 2) * (width / 2) }
    public var videoClipTokens: Int { steps * patchesPerStep }
    public var referenceTokens: Int { references * patchesPerStep }
    /// Video-stream tokens: the clip, then the references.
    public var videoTokens: Int { videoClipTokens + referenceTokens }
    public var audioTokens: Int { steps * config.audioTokensPerStepPatched }
    /// Floats of one step of video latents, and of audio latents.
    public var videoStepSize: Int { config.videoChannels * height * width }
    public var audioStepSize: Int { config.audioChannels * config.audioTokensPerStep }

    /// Time (video frames) of reference `r`.
    public static func referenceTime(_ r: Int) -> Int { -8 * (r + 1) }

    /// Rotary positions of the video stream's tokens: the clip's, then the references'.
    public var videoPositions: [TokenPosition] {
        var out: [TokenPosition] = []
        out.reserveCapacity(videoTokens)
        for j in 0..<steps + references {
            let t = j < steps ? stepTimes[j] : Self.referenceTime(j - steps)
            for r in 0..<height / 2 {
                for c in 0..<width / 2 { out.append(TokenPosition(t: Float(t), h: Float(r), w: Float(c))) }
            }
        }
        return out
    }

    /// Rotary positions of the audio tokens (time only).
    public var audioPositions: [TokenPosition] {
        let perStep = config.audioTokensPerStepPatched
        var out: [TokenPosition] = []
        for j in 0..<steps {
            for m in 0..<perStep { out.append(TokenPosition(t: audioTime(step: j, token: m))) }
        }
        return out
    }

    /// Start time (video frames) of audio token `m` of step `j`: `stepTimes[j] - 3 + 4m / perStep`, exact in
    /// Float because `perStep` is a small power-of-two multiple of 4.
    public func audioTime(step j: Int, token m: Int) -> Float {
        let perStep = config.audioTokensPerStepPatched
        let s = MMDiTConfig.temporalStride
        return Float((stepTimes[j] - (s - 1)) * perStep + s * m) / Float(perStep)
    }

    /// Fills the video tokens of the clip: features `[noisy C, reference C, mask 1] × (dy, dx)` per 2×2 patch.
    /// - Parameters:
    ///   - noisy, reference: `[T, C, h, w]`; mask: `[T, h, w]` (1 = held).
    func patchifyVideo(
        noisy: UnsafePointer<Float>, reference: UnsafePointer<Float>, mask: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>
    ) {
        let c = config.videoChannels
        let f = config.videoTokenInputs
        let (h, w) = (height, width)
        for j in 0..<steps {
            for r in 0..<h / 2 {
                for col in 0..<w / 2 {
                    let token = out + ((j * (h / 2) + r) * (w / 2) + col) * f
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            let y = 2 * r + dy
                            let x = 2 * col + dx
                            let q = dy * 2 + dx
                            for ch in 0..<c {
                                let at = ((j * c + ch) * h + y) * w + x
                                token[ch * 4 + q] = noisy[at]
                                token[(c + ch) * 4 + q] = reference[at]
                            }
                            token[2 * c * 4 + q] = mask[(j * h + y) * w + x]
                        }
                    }
                }
            }
        }
    }

    /// Fills the reference tokens (after the clip's): noisy 0, reference the latent, mask 1.
    /// - Parameter latents: `[R, C, h, w]`.
    func patchifyReferences(_ latents: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = config.videoChannels
        let f = config.videoTokenInputs
        let (h, w) = (height, width)
        for j in 0..<references {
            for r in 0..<h / 2 {
                for col in 0..<w / 2 {
                    let token = out + ((j * (h / 2) + r) * (w / 2) + col) * f
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            let y = 2 * r + dy
                            let x = 2 * col + dx
                            let q = dy * 2 + dx
                            for ch in 0..<c {
                                token[ch * 4 + q] = 0
                                token[(c + ch) * 4 + q] = latents[((j * c + ch) * h + y) * w + x]
                            }
                            token[2 * c * 4 + q] = 1
                        }
                    }
                }
            }
        }
    }

    /// Scatters the clip's velocity tokens (`C × (dy, dx)` each) back to `[T, C, h, w]`.
    func unpatchifyVideo(_ tokens: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let c = config.videoChannels
        let f = config.videoTokenOutputs
        let (h, w) = (height, width)
        for j in 0..<steps {
            for r in 0..<h / 2 {
                for col in 0..<w / 2 {
                    let token = tokens + ((j * (h / 2) + r) * (w / 2) + col) * f
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            for ch in 0..<c {
                                out[((j * c + ch) * h + 2 * r + dy) * w + 2 * col + dx] = token[ch * 4 + dy * 2 + dx]
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fills the audio tokens: features `[noisy Ca, reference Ca, mask 1] × patch` per token.
    /// - Parameters:
    ///   - noisy, reference: `[T, Ca, A]`; mask: `[T, A]`.
    func patchifyAudio(
        noisy: UnsafePointer<Float>, reference: UnsafePointer<Float>, mask: UnsafePointer<Float>,
        into out: UnsafeMutablePointer<Float>
    ) {
        let (c, a, p, f) = (config.audioChannels, config.audioTokensPerStep, config.audioPatch, config.audioTokenInputs)
        for j in 0..<steps {
            for m in 0..<a / p {
                let token = out + (j * (a / p) + m) * f
                for q in 0..<p {
                    let i = m * p + q
                    for ch in 0..<c {
                        token[ch * p + q] = noisy[(j * c + ch) * a + i]
                        token[(c + ch) * p + q] = reference[(j * c + ch) * a + i]
                    }
                    token[2 * c * p + q] = mask[j * a + i]
                }
            }
        }
    }

    /// Scatters audio velocity tokens (`Ca × patch` each) back to `[T, Ca, A]`.
    func unpatchifyAudio(_ tokens: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let (c, a, p, f) = (
            config.audioChannels, config.audioTokensPerStep, config.audioPatch, config.audioTokenOutputs
        )
        for j in 0..<steps {
            for m in 0..<a / p {
                let token = tokens + (j * (a / p) + m) * f
                for q in 0..<p {
                    for ch in 0..<c { out[(j * c + ch) * a + m * p + q] = token[ch * p + q] }
                }
            }
        }
    }
}
