import Foundation

/// The dimensions of one dual-stream MMDiT: the named configurations `tiny` (tests), `small` (demos) and `bench`
/// (the benchmark).
///
/// The latent grid is fixed by the engine protocol: temporal stride 4 (causal), spatial stride 8. Video latents of
/// `videoChannels` are patchified 1×2×2; each latent step carries `audioTokensPerStep` audio latents of
/// `audioChannels`, patchified 1-D by `audioPatch`, so a step is `audioTokensPerStep / audioPatch` audio tokens.
public struct MMDiTConfig: Hashable, Sendable, Codable {
    public var name: String
    /// Channels of a video latent (C of `[T, C, H/8, W/8]`).
    public var videoChannels: Int
    /// Channels of an audio latent.
    public var audioChannels: Int
    /// Audio latents per latent step (each spans `4 / audioTokensPerStep` video frames).
    public var audioTokensPerStep: Int
    /// Audio latents per audio token.
    public var audioPatch: Int
    /// Hidden size of both streams.
    public var dim: Int
    public var heads: Int
    /// Dual-stream blocks.
    public var depth: Int
    /// MLP hidden size as a multiple of `dim`.
    public var mlpRatio: Int
    public var textDim: Int
    public var textHeads: Int
    public var textDepth: Int
    /// Longest text sequence, in tokens (a BOS token then UTF-8 bytes).
    public var textMaxTokens: Int
    /// Sinusoidal frequencies of the timestep embedding (cosines plus sines).
    public var timeFrequencies: Int
    /// Points of one audio synthesis window (the audio decoder's frame, two latents long).
    public var audioWindowPoints: Int
    /// Largest window (video frames) one call generates.
    public var maxWindow: Int
    /// Default classifier-free guidance scale.
    public var guidance: Float
    /// Default time shift of the sampler's schedule.
    public var timeShift: Float

    public static let temporalStride = 4
    public static let spatialStride = 8
    /// Video patch: 1 × 2 × 2 latents.
    public static let patch = 2
    /// Grid reference images a call takes at most.
    public static let maxReferences = 9

    public var headDim: Int { dim / heads }
    public var mlpDim: Int { dim * mlpRatio }
    public var audioTokensPerStepPatched: Int { audioTokensPerStep / audioPatch }
    /// Input features of one video token: `[noisy, reference, mask]` channels × the 2×2 patch.
    public var videoTokenInputs: Int { (2 * videoChannels + 1) * Self.patch * Self.patch }
    /// Output features of one video token: the velocity of the 2×2 patch.
    public var videoTokenOutputs: Int { videoChannels * Self.patch * Self.patch }
    public var audioTokenInputs: Int { (2 * audioChannels + 1) * audioPatch }
    public var audioTokenOutputs: Int { audioChannels * audioPatch }
    /// Vocabulary of the byte tokenizer: 256 bytes plus BOS.
    public static let textVocabulary = 257

    /// Configuration `name`, or nil when there is none.
    public static func named(_ name: String) -> MMDiTConfig? { all.first { $0.name == name } }

    /// Names of the built-in configurations.
    public static var names: [String] { all.map(\.name) }

    public static let all: [MMDiTConfig] = [
        MMDiTConfig(
            name: "tiny", videoChannels: 4, audioChannels: 4, audioTokensPerStep: 4, audioPatch: 1, dim: 32,
            heads: 2, depth: 2, mlpRatio: 2, textDim: 16, textHeads: 2, textDepth: 1, textMaxTokens: 32,
            timeFrequencies: 32, audioWindowPoints: 8, maxWindow: 33, guidance: 3, timeShift: 3),
        MMDiTConfig(
            name: "small", videoChannels: 8, audioChannels: 8, audioTokensPerStep: 8, audioPatch: 2, dim: 96,
            heads: 4, depth: 4, mlpRatio: 4, textDim: 64, textHeads: 4, textDepth: 2, textMaxTokens: 96,
            timeFrequencies: 64, audioWindowPoints: 32, maxWindow: 97, guidance: 3, timeShift: 3),
        MMDiTConfig(
            name: "bench", videoChannels: 16, audioChannels: 16, audioTokensPerStep: 16, audioPatch: 2, dim: 1024,
            heads: 8, depth: 4, mlpRatio: 4, textDim: 256, textHeads: 4, textDepth: 2, textMaxTokens: 128,
            timeFrequencies: 256, audioWindowPoints: 64, maxWindow: 97, guidance: 4, timeShift: 5),
    ]

    /// Rule violations (empty when the configuration is usable).
    public var problems: [String] {
        var p: [String] = []
        if dim % heads != 0 { p.append("dim \(dim) is not a multiple of heads \(heads)") }
        if headDim % 2 != 0 || headDim < 6 { p.append("head size \(headDim) must be even and ≥ 6") }
        if textDim % textHeads != 0 { p.append("textDim \(textDim) is not a multiple of textHeads \(textHeads)") }
        if audioTokensPerStep % audioPatch != 0 { p.append("audioTokensPerStep is not a multiple of audioPatch") }
        // An audio token must start exactly where each latent step's frame starts (see AudioTimeline).
        if audioTokensPerStepPatched % Self.temporalStride != 0 {
            p.append(
                "audio tokens per step (\(audioTokensPerStepPatched)) must be a multiple of \(Self.temporalStride)")
        }
        if (maxWindow - 1) % Self.temporalStride != 0 { p.append("maxWindow \(maxWindow) is not 1 + 4k") }
        if timeFrequencies % 2 != 0 { p.append("timeFrequencies must be even") }
        if [videoChannels, audioChannels, depth, textDepth, textMaxTokens, audioWindowPoints, mlpRatio].contains(
            where: { $0 < 1 })
        {
            p.append("every size must be ≥ 1")
        }
        return p
    }

    /// The configuration as JSON (stored in a weights file's metadata under `reelfarm.config`).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses ``json``.
    public init?(json: String) {
        guard let c = try? JSONDecoder().decode(MMDiTConfig.self, from: Data(json.utf8)) else { return nil }
        self = c
    }

    public init(
        name: String, videoChannels: Int, audioChannels: Int, audioTokensPerStep: Int, audioPatch: Int, dim: Int,
        heads: Int, depth: Int, mlpRatio: Int, textDim: Int, textHeads: Int, textDepth: Int, textMaxTokens: Int,
        timeFrequencies: Int, audioWindowPoints: Int, maxWindow: Int, guidance: Float, timeShift: Float
    ) {
        self.name = name
        self.videoChannels = videoChannels
        self.audioChannels = audioChannels
        self.audioTokensPerStep = audioTokensPerStep
        self.audioPatch = audioPatch
        self.dim = dim
        self.heads = heads
        self.depth = depth
        self.mlpRatio = mlpRatio
        self.textDim = textDim
        self.textHeads = textHeads
        self.textDepth = textDepth
        self.textMaxTokens = textMaxTokens
        self.timeFrequencies = timeFrequencies
        self.audioWindowPoints = audioWindowPoints
        self.maxWindow = maxWindow
        self.guidance = guidance
        self.timeShift = timeShift
    }
}
