/// The latent grid an engine works on.
///
/// Temporal compression is causal: the first latent frame stands for one video frame, each later one for
/// `temporalStride` frames, so a window of `1 + stride·k` frames is `1 + k` latent frames.
public struct EngineGeometry: Hashable, Sendable, Codable {
    public var temporalStride: Int
    public var spatialStride: Int
    /// Channels of one video latent frame.
    public var latentChannels: Int
    /// Largest window (video frames) one call can generate.
    public var maxWindow: Int
    /// How one latent step of each stream is laid out in the latents an engine hands back (tails, anchors).
    public var stepLayout: LatentStepLayout
    /// A film's width and height must be multiples of this (1: any size).
    public var spatialMultiple: Int
    /// The rate the model's sound comes out at before it is brought to the film's rate; nil: no sound of its own.
    public var nativeAudioRate: Int?

    public init(temporalStride: Int = 4, spatialStride: Int = 8, latentChannels: Int, maxWindow: Int,
                stepLayout: LatentStepLayout = .pooled, spatialMultiple: Int = 1, nativeAudioRate: Int? = nil) {
        self.temporalStride = temporalStride
        self.spatialStride = spatialStride
        self.latentChannels = latentChannels
        self.maxWindow = maxWindow
        self.stepLayout = stepLayout
        self.spatialMultiple = spatialMultiple
        self.nativeAudioRate = nativeAudioRate
    }

    /// The shape of one latent step of each stream for a film of `format`: a tail of `n` steps is
    /// `[n] + video` and `[n] + audio`.
    public func stepShapes(for format: OutputFormat) -> (video: [Int], audio: [Int]) {
        let video = stepLayout.spatial
            ? [latentChannels, format.height / spatialStride, format.width / spatialStride]
            : [latentChannels, 1, 1]
        return (video, stepLayout.audio)
    }

    /// Latent frames that stand for `frames` video frames (`frames` must be latent-aligned).
    public func latentCount(forFrames frames: Int) -> Int { 1 + (frames - 1) / temporalStride }

    /// Video frames that `latents` latent frames stand for.
    public func frameCount(forLatents latents: Int) -> Int { 1 + (latents - 1) * temporalStride }

    /// The smallest latent-aligned frame count (`1 + stride·k`) that is at least `frames`.
    public func aligned(_ frames: Int) -> Int {
        precondition(frames >= 1)
        return 1 + ((frames - 1 + temporalStride - 1) / temporalStride) * temporalStride
    }

    public func isAligned(_ frames: Int) -> Bool { frames >= 1 && (frames - 1) % temporalStride == 0 }

    /// Index, in a segment's latent grid, of the latent that stands for local video frame `frame`
    /// (the causal grid: latent `j` is the state at local frame `stride·j`).
    public func latentIndex(ofFrame frame: Int) -> Int { (frame + temporalStride - 1) / temporalStride }
}

/// The per-step layout of an engine's latents, which the coordinator holds every returned tail and anchor pass to.
public struct LatentStepLayout: Hashable, Sendable, Codable {
    /// `true`: a video step is `[channels, H/spatialStride, W/spatialStride]`; `false`: `[channels, 1, 1]` (a state
    /// vector, as the test card's).
    public var spatial: Bool
    /// The shape of one audio step (`[0]`: no audio latents).
    public var audio: [Int]

    public init(spatial: Bool, audio: [Int]) {
        self.spatial = spatial
        self.audio = audio
    }

    /// `[channels, 1, 1]` video and no audio latents per step (the test card's layout).
    public static let pooled = LatentStepLayout(spatial: false, audio: [0])
}
