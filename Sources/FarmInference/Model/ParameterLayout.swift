/// Every tensor of an MMDiT, by name and shape: the model's one definition of its weights.
///
/// Names follow PyTorch habits (`blocks.3.video.qkv.weight`); linear weights are `[out, in]`. The NumPy
/// reference and a future GPU backend read the same names from the same file.
public struct ParameterLayout: Sendable {
    /// What a tensor is, which decides how seeded weights draw it.
    public enum Role: Sendable {
        case linear, bias, normWeight, embedding, modulationOffset, decoder, encoder
    }

    public struct Parameter: Sendable {
        public var name: String
        public var shape: [Int]
        public var role: Role
        public var count: Int { shape.reduce(1, *) }
    }

    public let parameters: [Parameter]

    /// The two latent streams of the model.
    public static let streams = ["video", "audio"]

    public init(_ c: MMDiTConfig) {
        var p: [Parameter] = []
        func linear(_ name: String, _ out: Int, _ inp: Int) {
            p.append(Parameter(name: "\(name).weight", shape: [out, inp], role: .linear))
            p.append(Parameter(name: "\(name).bias", shape: [out], role: .bias))
        }
        func norm(_ name: String, _ n: Int) {
            p.append(Parameter(name: "\(name).weight", shape: [n], role: .normWeight))
            p.append(Parameter(name: "\(name).bias", shape: [n], role: .bias))
        }
        let (d, dt, hd) = (c.dim, c.textDim, c.headDim)
        // Text encoder: byte embeddings, learned positions, pre-LN transformer blocks.
        p.append(Parameter(name: "text.embed", shape: [MMDiTConfig.textVocabulary, dt], role: .embedding))
        p.append(Parameter(name: "text.pos", shape: [c.textMaxTokens, dt], role: .embedding))
        for i in 0..<c.textDepth {
            norm("text.blocks.\(i).norm1", dt)
            linear("text.blocks.\(i).qkv", 3 * dt, dt)
            linear("text.blocks.\(i).out", dt, dt)
            norm("text.blocks.\(i).norm2", dt)
            linear("text.blocks.\(i).fc1", 4 * dt, dt)
            linear("text.blocks.\(i).fc2", dt, 4 * dt)
        }
        norm("text.norm", dt)
        linear("text.proj", d, dt)
        linear("text.pool_video", d, dt)
        linear("text.pool_audio", d, dt)
        // Timestep embedding.
        linear("time.fc1", d, c.timeFrequencies)
        linear("time.fc2", d, d)
        // Per stream: patch embedding, the shared adaLN projection, the final layer.
        for (s, inputs, outputs) in [
            ("video", c.videoTokenInputs, c.videoTokenOutputs),
            ("audio", c.audioTokenInputs, c.audioTokenOutputs),
        ] {
            linear("\(s).embed", d, inputs)
            linear("\(s).modulation", 6 * d, d)
            linear("\(s).final.modulation", 2 * d, d)
            linear("\(s).final.proj", outputs, d)
        }
        for i in 0..<c.depth {
            for s in Self.streams {
                p.append(Parameter(name: "blocks.\(i).\(s).modulation", shape: [6, d], role: .modulationOffset))
                linear("blocks.\(i).\(s).qkv", 3 * d, d)
                p.append(Parameter(name: "blocks.\(i).\(s).q_norm", shape: [hd], role: .normWeight))
                p.append(Parameter(name: "blocks.\(i).\(s).k_norm", shape: [hd], role: .normWeight))
                linear("blocks.\(i).\(s).out", d, d)
                linear("blocks.\(i).\(s).fc1", c.mlpDim, d)
                linear("blocks.\(i).\(s).fc2", d, c.mlpDim)
            }
            linear("blocks.\(i).text.kv", 2 * d, d)
            p.append(Parameter(name: "blocks.\(i).text.k_norm", shape: [hd], role: .normWeight))
        }
        // Codecs: latent ↔ pixels (8×8×3 per latent, four frames per latent step) and latent ↔ PCM windows.
        let pixels = MMDiTConfig.spatialStride * MMDiTConfig.spatialStride * 3
        p.append(
            Parameter(
                name: "codec.video.decode.weight", shape: [MMDiTConfig.temporalStride * pixels, c.videoChannels],
                role: .decoder))
        p.append(Parameter(name: "codec.video.decode.bias", shape: [MMDiTConfig.temporalStride * pixels], role: .bias))
        p.append(Parameter(name: "codec.video.encode.weight", shape: [c.videoChannels, pixels], role: .encoder))
        p.append(Parameter(name: "codec.video.encode.bias", shape: [c.videoChannels], role: .encoder))
        p.append(
            Parameter(
                name: "codec.audio.decode.weight", shape: [2 * c.audioWindowPoints, c.audioChannels], role: .decoder))
        p.append(Parameter(name: "codec.audio.decode.bias", shape: [2 * c.audioWindowPoints], role: .bias))
        p.append(
            Parameter(
                name: "codec.audio.encode.weight", shape: [c.audioChannels, 2 * c.audioWindowPoints], role: .encoder))
        p.append(Parameter(name: "codec.audio.encode.bias", shape: [c.audioChannels], role: .encoder))
        parameters = p
    }

    /// Floats in all parameters.
    public var count: Int { parameters.reduce(0) { $0 + $1.count } }
}
