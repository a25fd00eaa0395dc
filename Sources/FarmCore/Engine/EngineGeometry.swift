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

    public init(temporalStride: Int = 4, spatialStride: Int = 8, latentChannels: Int, maxWindow: Int) {
        self.temporalStride = temporalStride
        self.spatialStride = spatialStride
        self.latentChannels = latentChannels
        self.maxWindow = maxWindow
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
