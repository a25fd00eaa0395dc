import Foundation

/// The dual-stream audio-video MMDiT: the one definition of the model's computation.
///
/// A video stream and an audio stream, each with its own weights (patch embedding, adaLN modulation, QKV,
/// output, MLP, final layer), meet in one joint attention per block over `[text, video, audio]` tokens. Video
/// tokens carry 3-D rotary positions (t, h, w), audio tokens 1-D positions on the same time axis (video-frame
/// units). Each stream's input is `[noisy, reference, mask]` on channels, so text-to-video, continuation and
/// keyframes are one interface. The model predicts the rectified-flow velocity `noise - data`.
///
/// Block `i`, stream `s` (modulation `m = shared_s(SiLU(c_s)) + offset_{i,s}` split into six):
/// ```
/// h = LN(x)·(1 + scale1) + shift1;  q, k, v = h·W_qkv;  q, k = RMSNorm(q), RMSNorm(k) per head;  RoPE(q, k)
/// x += gate1 · W_out(Attention(q_{video,audio}, k_{text,video,audio}, v_{text,video,audio}))
/// h = LN(x)·(1 + scale2) + shift2;  x += gate2 · W_fc2(GELU(W_fc1 h))
/// ```
public final class MMDiT: @unchecked Sendable {
    public let weights: ModelWeights
    public var config: MMDiTConfig { weights.config }

    let textEncoder: TextEncoder
    let textProj: Linear, poolVideo: Linear, poolAudio: Linear
    let timeFc1: Linear, timeFc2: Linear
    /// Index 0 video, 1 audio.
    let streams: [StreamWeights]
    /// Per block: [video, audio].
    let blocks: [[StreamBlockWeights]]
    let textKV: [Linear]
    let textKNorm: [UnsafePointer<Float>]

    public init(weights: ModelWeights) {
        self.weights = weights
        textEncoder = TextEncoder(weights)
        textProj = Linear(weights, "text.proj")
        poolVideo = Linear(weights, "text.pool_video")
        poolAudio = Linear(weights, "text.pool_audio")
        timeFc1 = Linear(weights, "time.fc1")
        timeFc2 = Linear(weights, "time.fc2")
        streams = ParameterLayout.streams.map { StreamWeights(weights, stream: $0) }
        blocks = (0..<weights.config.depth).map { i in
            ParameterLayout.streams.map { StreamBlockWeights(weights, block: i, stream: $0) }
        }
        textKV = (0..<weights.config.depth).map { Linear(weights, "blocks.\($0).text.kv") }
        textKNorm = (0..<weights.config.depth).map { UnsafePointer(weights.pointer("blocks.\($0).text.k_norm")) }
    }

    /// Encodes a branch's text (the empty prompt and sound make the unconditional branch).
    public func textContext(prompt: String, sound: String) -> TextContext {
        TextContext(model: self, prompt: prompt, sound: sound)
    }

    /// One forward pass: velocity tokens for the inputs already in `ws.videoIn` / `ws.audioIn`.
    /// - Parameters:
    ///   - time: flow time in [0, 1] (1 = pure noise).
    ///   - videoOut: `[videoClipTokens, videoTokenOutputs]`; audioOut: `[audioTokens, audioTokenOutputs]`.
    public func forward(
        _ ws: Workspace, text: TextContext, time: Float, videoOut: UnsafeMutablePointer<Float>,
        audioOut: UnsafeMutablePointer<Float>
    ) {
        precondition(ws.layout.config == config && text.tokens <= ws.maxTextTokens, "MMDiT: workspace does not fit")
        let start = Workspace.now()
        let c = config
        let d = c.dim
        let lay = ws.layout
        let nv = lay.videoTokens
        let na = lay.audioTokens
        // Stream s's rows: video first, then audio (no arrays here: the forward pass allocates nothing).
        func counts(_ s: Int) -> Int { s == 0 ? nv : na }
        func firstRow(_ s: Int) -> Int { s == 0 ? 0 : nv }
        conditioning(ws, text: text, time: time)
        streams[0].embed.apply(ws.videoIn.base, rows: nv, into: ws.x.base)
        streams[1].embed.apply(ws.audioIn.base, rows: na, into: ws.x.base + nv * d)
        for (i, block) in blocks.enumerated() {
            for s in 0..<2 {
                let m = ws.blockModulation[s].base
                m.update(from: ws.modulation[s].base, count: 6 * d)
                VectorMath.add(block[s].modulation, into: m, count: 6 * d)
                Self.modulatedNorm(
                    ws.x.base + firstRow(s) * d, rows: counts(s), d: d, shift: m, scale: m + d,
                    out: ws.h.base + firstRow(s) * d)
            }
            attention(ws, block: block, index: i, text: text)
            for s in 0..<2 {
                let at = firstRow(s) * d
                let m = UnsafePointer(ws.blockModulation[s].base)
                let w = block[s]
                let x = ws.x.base + at
                let h = ws.h.base + at
                let proj = ws.proj.base + at
                let mlp = ws.mlp.base + firstRow(s) * c.mlpDim
                w.out.product(ws.attn.base + at, rows: counts(s), into: proj)
                Parallel.chunks(counts(s), grain: 16) { r in
                    VectorMath.addGated(
                        proj + r.lowerBound * d, bias: w.out.bias, gate: m + 2 * d, into: x + r.lowerBound * d,
                        rows: r.count, n: d)
                }
                Self.modulatedNorm(x, rows: counts(s), d: d, shift: m + 3 * d, scale: m + 4 * d, out: h)
                w.fc1.product(h, rows: counts(s), into: mlp)
                Parallel.chunks(counts(s), grain: 4) { r in
                    VectorMath.biasGELU(mlp + r.lowerBound * c.mlpDim, bias: w.fc1.bias, rows: r.count, n: c.mlpDim)
                }
                w.fc2.product(mlp, rows: counts(s), into: proj)
                Parallel.chunks(counts(s), grain: 16) { r in
                    VectorMath.addGated(
                        proj + r.lowerBound * d, bias: w.fc2.bias, gate: m + 5 * d, into: x + r.lowerBound * d,
                        rows: r.count, n: d)
                }
            }
        }
        // Final layers: only the clip's video tokens are predicted, never the references'.
        for s in 0..<2 {
            let rows = s == 0 ? lay.videoClipTokens : na
            let at = firstRow(s) * d
            let f = ws.finalModulation[s].base
            Self.modulatedNorm(ws.x.base + at, rows: rows, d: d, shift: f, scale: f + d, out: ws.h.base + at)
            streams[s].finalProj.apply(ws.h.base + at, rows: rows, into: s == 0 ? videoOut : audioOut)
        }
        ws.addForward(since: start)
    }

    /// Timestep embedding, each stream's condition vector, its shared modulation and its final modulation.
    private func conditioning(_ ws: Workspace, text: TextContext, time: Float) {
        let c = config
        let d = c.dim
        let half = c.timeFrequencies / 2
        for k in 0..<half {
            let arg = Double(time) * 1000 * Foundation.exp(-Foundation.log(10_000) * Double(k) / Double(half))
            ws.frequencies.base[k] = Float(Foundation.cos(arg))
            ws.frequencies.base[half + k] = Float(Foundation.sin(arg))
        }
        timeFc1.apply(ws.frequencies.base, rows: 1, into: ws.hidden.base)
        VectorMath.silu(ws.hidden.base, count: d)
        timeFc2.apply(ws.hidden.base, rows: 1, into: ws.timeEmbedding.base)
        for s in 0..<2 {
            let cond = ws.condition[s].base
            let pooled = s == 0 ? text.pooledVideo : text.pooledAudio
            cond.update(from: ws.timeEmbedding.base, count: d)
            VectorMath.add(pooled.base, into: cond, count: d)
            VectorMath.silu(cond, count: d)
            streams[s].modulation.apply(cond, rows: 1, into: ws.modulation[s].base)
            streams[s].finalModulation.apply(cond, rows: 1, into: ws.finalModulation[s].base)
        }
    }

    /// `LN(x)·(1 + scale) + shift` over `rows` rows, spread over the cores.
    static func modulatedNorm(
        _ x: UnsafePointer<Float>, rows: Int, d: Int, shift: UnsafePointer<Float>,
        scale: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        Parallel.chunks(rows, grain: 16) { r in
            Normalization.layerNormModulated(
                x + r.lowerBound * d, rows: r.count, n: d, shift: shift, scale: scale,
                out: out + r.lowerBound * d)
        }
    }

    /// QKV of both streams, the text's keys and values, norms, rotary positions, then the joint attention.
    private func attention(_ ws: Workspace, block: [StreamBlockWeights], index i: Int, text: TextContext) {
        let c = config
        let d = c.dim
        let ld = 3 * d
        let lay = ws.layout
        let nv = lay.videoTokens
        let na = lay.audioTokens
        let nt = text.tokens
        let kv = text.keysValues[i].base
        for r in 0..<nt { (ws.qkv.base + r * ld + d).update(from: kv + r * 2 * d, count: 2 * d) }
        for s in 0..<2 {
            let first = s == 0 ? 0 : nv
            let rows = s == 0 ? nv : na
            let rope = s == 0 ? ws.videoRope : ws.audioRope
            let q = ws.qkv.base + (nt + first) * ld
            let w = block[s]
            w.qkv.product(ws.h.base + first * d, rows: rows, into: q, ldo: ld)
            // Bias, per-head RMS norm and rotary positions in one pass over each row.
            Parallel.chunks(rows, grain: 16) { range in
                for r in range {
                    let row = q + r * ld
                    VectorMath.add(w.qkv.bias, into: row, count: ld)
                    Normalization.rmsNormHeads(
                        row, rows: 1, ld: ld, heads: c.heads, headDim: c.headDim, weight: w.qNorm)
                    Normalization.rmsNormHeads(
                        row + d, rows: 1, ld: ld, heads: c.heads, headDim: c.headDim, weight: w.kNorm)
                    rope.apply(row, rows: 1, ld: ld, heads: c.heads, first: r)
                    rope.apply(row + d, rows: 1, ld: ld, heads: c.heads, first: r)
                }
            }
        }
        let start = Workspace.now()
        ws.attention.run(
            q: ws.qkv.base + nt * ld, ldq: ld, k: ws.qkv.base + d, ldk: ld, v: ws.qkv.base + 2 * d, ldv: ld,
            out: ws.attn.base, ldo: d, queries: nv + na, keys: nt + nv + na, heads: c.heads,
            headDim: c.headDim, scratch: ws.scratch.base)
        ws.addAttention(since: start)
    }
}
