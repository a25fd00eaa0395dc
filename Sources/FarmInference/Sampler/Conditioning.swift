/// What one sampler call is conditioned on: text, held latents (masks), grid references, and where its noise
/// comes from.
///
/// Each stream's model input is `[noisy, reference, mask]`: a position whose mask is 1 takes its reference value
/// and is held there at every step (overlap context, anchors, keyframes); all-zero masks are plain
/// text-to-video-and-audio.
public struct Conditioning: Sendable {
    public let layout: TokenLayout
    public var prompt: String
    public var sound: String
    /// `[T, C, h, w]` and `[T, h, w]`.
    public var videoReference: [Float]
    public var videoMask: [Float]
    /// `[T, Ca, A]` and `[T, A]`.
    public var audioReference: [Float]
    public var audioMask: [Float]
    /// `[R, C, h, w]`: encoded grid reference images (R = `layout.references`).
    public var references: [Float]
    public var seed: UInt64
    public var segment: Int

    /// Nothing held, no references: generation from text alone.
    public init(layout: TokenLayout, prompt: String, sound: String, seed: UInt64, segment: Int) {
        self.layout = layout
        self.prompt = prompt
        self.sound = sound
        self.seed = seed
        self.segment = segment
        let (t, c) = (layout.steps, layout.config)
        videoReference = [Float](repeating: 0, count: t * layout.videoStepSize)
        videoMask = [Float](repeating: 0, count: t * layout.height * layout.width)
        audioReference = [Float](repeating: 0, count: t * layout.audioStepSize)
        audioMask = [Float](repeating: 0, count: t * c.audioTokensPerStep)
        references = [Float](repeating: 0, count: layout.references * c.videoChannels * layout.height * layout.width)
    }

    /// Holds video step `step` at `latent` (`C · h · w` floats): a context frame, an anchor or a keyframe.
    public mutating func holdVideo(step: Int, latent: ArraySlice<Float>) {
        let n = layout.videoStepSize
        let plane = layout.height * layout.width
        precondition(step >= 0 && step < layout.steps && latent.count == n, "Conditioning: video pin does not fit")
        videoReference.replaceSubrange(step * n..<(step + 1) * n, with: latent)
        for i in step * plane..<(step + 1) * plane { videoMask[i] = 1 }
    }

    /// Holds audio step `step` at `latent` (`Ca · A` floats).
    public mutating func holdAudio(step: Int, latent: ArraySlice<Float>) {
        let n = layout.audioStepSize
        let a = layout.config.audioTokensPerStep
        precondition(step >= 0 && step < layout.steps && latent.count == n, "Conditioning: audio pin does not fit")
        audioReference.replaceSubrange(step * n..<(step + 1) * n, with: latent)
        for i in step * a..<(step + 1) * a { audioMask[i] = 1 }
    }
}
