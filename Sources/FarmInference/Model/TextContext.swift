/// The text conditioning of one sampler branch, computed once per call before the denoising loop.
///
/// The prompt and the sound description are encoded separately. Both sequences enter every block's joint
/// attention as keys and values (projected to the model width); their means condition the streams' adaLN: the
/// prompt's the video stream, the sound's the audio stream. So the sound cue steers the audio stream directly
/// through its modulation and the picture only through attention, and the prompt the other way round.
public final class TextContext: @unchecked Sendable {
    public let promptTokens: Int
    public let soundTokens: Int
    /// Per block, `[tokens, 2·dim]`: keys (RMS-normed per head) then values.
    let keysValues: [FloatBuffer]
    let pooledVideo: FloatBuffer
    let pooledAudio: FloatBuffer

    /// Text tokens in the joint attention.
    public var tokens: Int { promptTokens + soundTokens }

    init(model: MMDiT, prompt: String, sound: String) {
        let c = model.config
        let p = ByteTokenizer.tokens(prompt, limit: c.textMaxTokens)
        let s = ByteTokenizer.tokens(sound, limit: c.textMaxTokens)
        promptTokens = p.count
        soundTokens = s.count
        let n = p.count + s.count
        let (d, dt) = (c.dim, c.textDim)
        let states = [model.textEncoder.encode(p), model.textEncoder.encode(s)]
        let joint = FloatBuffer(count: n * dt)
        (joint.base).update(from: states[0].base, count: p.count * dt)
        (joint.base + p.count * dt).update(from: states[1].base, count: s.count * dt)
        let projected = FloatBuffer(count: n * d)
        model.textProj.apply(joint.base, rows: n, into: projected.base)
        keysValues = (0..<c.depth).map { i in
            let kv = FloatBuffer(count: n * 2 * d)
            model.textKV[i].apply(projected.base, rows: n, into: kv.base)
            Normalization.rmsNormHeads(
                kv.base, rows: n, ld: 2 * d, heads: c.heads, headDim: c.headDim,
                weight: model.textKNorm[i])
            return kv
        }
        func pooled(_ states: FloatBuffer, _ count: Int, _ layer: Linear) -> FloatBuffer {
            let mean = FloatBuffer(count: dt)
            for r in 0..<count { for j in 0..<dt { mean.base[j] += states.base[r * dt + j] } }
            for j in 0..<dt { mean.base[j] /= Float(count) }
            let out = FloatBuffer(count: d)
            layer.apply(mean.base, rows: 1, into: out.base)
            return out
        }
        pooledVideo = pooled(states[0], p.count, model.poolVideo)
        pooledAudio = pooled(states[1], s.count, model.poolAudio)
    }
}
