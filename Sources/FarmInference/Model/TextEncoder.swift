/// The text encoder: byte embeddings plus learned positions through a small pre-LN transformer.
///
/// It runs once per text per segment, before the denoising loop; its output feeds the joint attention (projected
/// to the model width) and, mean-pooled, each stream's adaLN conditioning.
struct TextEncoder: @unchecked Sendable {
    struct Layer {
        let norm1: (UnsafePointer<Float>, UnsafePointer<Float>)
        let qkv: Linear
        let out: Linear
        let norm2: (UnsafePointer<Float>, UnsafePointer<Float>)
        let fc1: Linear
        let fc2: Linear
    }

    let config: MMDiTConfig
    let embed: UnsafePointer<Float>
    let positions: UnsafePointer<Float>
    let layers: [Layer]
    let norm: (UnsafePointer<Float>, UnsafePointer<Float>)

    init(_ w: ModelWeights) {
        config = w.config
        func pair(_ n: String) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
            (UnsafePointer(w.pointer("\(n).weight")), UnsafePointer(w.pointer("\(n).bias")))
        }
        embed = UnsafePointer(w.pointer("text.embed"))
        positions = UnsafePointer(w.pointer("text.pos"))
        layers = (0..<w.config.textDepth).map { i in
            let p = "text.blocks.\(i)"
            return Layer(
                norm1: pair("\(p).norm1"), qkv: Linear(w, "\(p).qkv"), out: Linear(w, "\(p).out"),
                norm2: pair("\(p).norm2"), fc1: Linear(w, "\(p).fc1"), fc2: Linear(w, "\(p).fc2"))
        }
        norm = pair("text.norm")
    }

    /// Final-normed states `[tokens.count, textDim]` of a token sequence.
    func encode(_ tokens: [Int]) -> FloatBuffer {
        let (n, d) = (tokens.count, config.textDim)
        precondition(n >= 1 && n <= config.textMaxTokens, "TextEncoder: \(n) tokens")
        let x = FloatBuffer(count: n * d)
        let h = FloatBuffer(count: n * d)
        let qkv = FloatBuffer(count: n * 3 * d)
        let attn = FloatBuffer(count: n * d)
        let mlp = FloatBuffer(count: n * 4 * d)
        let proj = FloatBuffer(count: n * d)
        let attention = TiledAttention()
        let scratch = FloatBuffer(count: attention.scratchCount(heads: config.textHeads))
        for (i, t) in tokens.enumerated() {
            precondition(t >= 0 && t < MMDiTConfig.textVocabulary)
            for j in 0..<d { x.base[i * d + j] = embed[t * d + j] + positions[i * d + j] }
        }
        for layer in layers {
            Normalization.layerNorm(x.base, rows: n, n: d, weight: layer.norm1.0, bias: layer.norm1.1, out: h.base)
            layer.qkv.apply(h.base, rows: n, into: qkv.base)
            attention.run(
                q: qkv.base, ldq: 3 * d, k: qkv.base + d, ldk: 3 * d, v: qkv.base + 2 * d, ldv: 3 * d,
                out: attn.base, ldo: d, queries: n, keys: n, heads: config.textHeads,
                headDim: d / config.textHeads, scratch: scratch.base)
            layer.out.apply(attn.base, rows: n, into: proj.base)
            VectorMath.add(proj.base, into: x.base, count: n * d)
            Normalization.layerNorm(x.base, rows: n, n: d, weight: layer.norm2.0, bias: layer.norm2.1, out: h.base)
            layer.fc1.apply(h.base, rows: n, into: mlp.base)
            VectorMath.gelu(mlp.base, count: n * 4 * d)
            layer.fc2.apply(mlp.base, rows: n, into: proj.base)
            VectorMath.add(proj.base, into: x.base, count: n * d)
        }
        Normalization.layerNorm(x.base, rows: n, n: d, weight: norm.0, bias: norm.1, out: h.base)
        return h
    }
}
