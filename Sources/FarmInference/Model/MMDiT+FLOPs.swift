/// The arithmetic of one forward pass, counted from the dimensions (2 FLOPs per multiply-add).
public struct ForwardCost: Sendable {
    /// Every linear layer: patch embeddings, conditioning, QKV, outputs, MLPs, final layers.
    public var linear: Double
    /// The joint attention's two products per head (`q·kᵀ` and `p·v`).
    public var attention: Double
    public var total: Double { linear + attention }
}

extension MMDiT {
    /// FLOPs of ``forward(_:text:time:videoOut:audioOut:)`` for `layout` with `textTokens` text tokens. Norms,
    /// activations and the softmax are not counted (they are a few FLOPs per element, not per product).
    public static func cost(_ c: MMDiTConfig, layout: TokenLayout, textTokens: Int) -> ForwardCost {
        let d = Double(c.dim)
        let nv = Double(layout.videoTokens)
        let na = Double(layout.audioTokens)
        let clip = Double(layout.videoClipTokens)
        let queries = nv + na
        let keys = Double(textTokens) + queries
        var linear = 2 * Double(c.timeFrequencies) * d + 2 * d * d + 2 * (2 * d * 6 * d + 2 * d * 2 * d)
        linear += 2 * nv * Double(c.videoTokenInputs) * d + 2 * na * Double(c.audioTokenInputs) * d
        let perToken = 2 * d * (3 * d + d + 2 * Double(c.mlpDim))
        linear += Double(c.depth) * queries * perToken
        linear += 2 * clip * d * Double(c.videoTokenOutputs) + 2 * na * d * Double(c.audioTokenOutputs)
        let attention = Double(c.depth) * 4 * queries * keys * d
        return ForwardCost(linear: linear, attention: attention)
    }
}
