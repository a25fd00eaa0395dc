import Dispatch

/// Every buffer one forward pass writes, sized once for a token layout and a longest text.
///
/// The sampler makes one workspace per call before its loop; a forward pass only reads and writes these, so the
/// denoising loop allocates nothing. Rows of the stream buffers are the video tokens (clip, then references) and
/// then the audio tokens.
public final class Workspace: @unchecked Sendable {
    public let layout: TokenLayout
    /// Text tokens the joint attention can take (prompt plus sound of the longer branch).
    public let maxTextTokens: Int
    let videoRope: RotaryEmbedding
    let audioRope: RotaryEmbedding
    let attention: TiledAttention

    // Token inputs and velocity outputs.
    let videoIn: FloatBuffer, audioIn: FloatBuffer
    // Stream activations, `[videoTokens + audioTokens, ·]`.
    let x: FloatBuffer, h: FloatBuffer, attn: FloatBuffer, proj: FloatBuffer, mlp: FloatBuffer
    /// `[maxText + videoTokens + audioTokens, 3·dim]`: text rows hold keys and values only.
    let qkv: FloatBuffer
    let scratch: FloatBuffer
    // Conditioning vectors.
    let frequencies: FloatBuffer, hidden: FloatBuffer, timeEmbedding: FloatBuffer
    let condition: [FloatBuffer], modulation: [FloatBuffer], blockModulation: [FloatBuffer],
        finalModulation: [FloatBuffer]

    /// Seconds spent in joint attention and in whole forward passes since the workspace was made.
    public private(set) var attentionSeconds: Double = 0
    public private(set) var forwardSeconds: Double = 0
    public private(set) var forwardPasses = 0

    /// Buffers for `layout` with text of at most `maxTextTokens` tokens.
    public init(layout: TokenLayout, maxTextTokens: Int, attention: TiledAttention = TiledAttention()) {
        let c = layout.config
        self.layout = layout
        self.maxTextTokens = maxTextTokens
        self.attention = attention
        videoRope = RotaryEmbedding(positions: layout.videoPositions, headDim: c.headDim)
        audioRope = RotaryEmbedding(positions: layout.audioPositions, headDim: c.headDim)
        let rows = layout.videoTokens + layout.audioTokens
        videoIn = FloatBuffer(count: layout.videoTokens * c.videoTokenInputs)
        audioIn = FloatBuffer(count: layout.audioTokens * c.audioTokenInputs)
        x = FloatBuffer(count: rows * c.dim)
        h = FloatBuffer(count: rows * c.dim)
        attn = FloatBuffer(count: rows * c.dim)
        proj = FloatBuffer(count: rows * c.dim)
        mlp = FloatBuffer(count: rows * c.mlpDim)
        qkv = FloatBuffer(count: (maxTextTokens + rows) * 3 * c.dim)
        scratch = FloatBuffer(count: attention.scratchCount(heads: c.heads))
        frequencies = FloatBuffer(count: c.timeFrequencies)
        hidden = FloatBuffer(count: c.dim)
        timeEmbedding = FloatBuffer(count: c.dim)
        condition = (0..<2).map { _ in FloatBuffer(count: c.dim) }
        modulation = (0..<2).map { _ in FloatBuffer(count: 6 * c.dim) }
        blockModulation = (0..<2).map { _ in FloatBuffer(count: 6 * c.dim) }
        finalModulation = (0..<2).map { _ in FloatBuffer(count: 2 * c.dim) }
    }

    /// Bytes of activations held (the rotary tables included).
    public var byteCount: Int {
        let buffers =
            [
                videoIn, audioIn, x, h, attn, proj, mlp, qkv, scratch, frequencies, hidden, timeEmbedding,
                videoRope.cos, videoRope.sin, audioRope.cos, audioRope.sin,
            ]
            + condition + modulation + blockModulation + finalModulation
        return buffers.reduce(0) { $0 + $1.byteCount }
    }

    /// Clears the timers.
    public func resetTimers() {
        attentionSeconds = 0
        forwardSeconds = 0
        forwardPasses = 0
    }

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func addAttention(since start: UInt64) { attentionSeconds += Double(Self.now() - start) / 1e9 }
    func addForward(since start: UInt64) {
        forwardSeconds += Double(Self.now() - start) / 1e9
        forwardPasses += 1
    }
}
