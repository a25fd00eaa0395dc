import Foundation

/// Latents of both streams produced by one sampler call, in the layouts of ``Conditioning``.
public struct SampledLatents: Sendable, Equatable {
    /// `[T, C, h, w]`.
    public var video: [Float]
    /// `[T, Ca, A]`.
    public var audio: [Float]
}

/// The rectified-flow Euler sampler with a time shift and classifier-free guidance.
///
/// Flow time runs from 1 (noise) to 0 (data) over `steps` Euler steps at `shift(1 - i/steps)`, where
/// `shift(t) = s·t / (1 + (s - 1)·t)` spends more steps at high noise. Each step evaluates the model on the
/// conditional text and, when `guidance != 1`, on the empty text, and moves along
/// `v_uncond + guidance · (v_cond - v_uncond)`. Held positions are reset to their reference values before the
/// first step and after every step, so they come out bit-identical to what was given.
public struct FlowSampler: Sendable {
    public let model: MMDiT
    public var steps: Int
    public var guidance: Float
    public var timeShift: Float

    /// A sampler with the model's default guidance and shift.
    public init(model: MMDiT, steps: Int, guidance: Float? = nil, timeShift: Float? = nil) {
        precondition(steps >= 1, "FlowSampler: steps must be ≥ 1")
        self.model = model
        self.steps = steps
        self.guidance = guidance ?? model.config.guidance
        self.timeShift = timeShift ?? model.config.timeShift
    }

    /// Flow times `t_0 = 1 > … > t_steps = 0`.
    public static func schedule(steps: Int, shift: Float) -> [Float] {
        (0...steps).map { i in
            let t = 1 - Double(i) / Double(steps)
            let s = Double(shift)
            return Float(s * t / (1 + (s - 1) * t))
        }
    }

    /// Runs the sampler.
    public func sample(_ cond: Conditioning) -> SampledLatents { sample(cond, progress: { _, _ in }) }

    /// Samples, calling `progress` after every step; an error it throws stops sampling (a cancelled task).
    public func sample(_ cond: Conditioning, progress: (Int, Int) throws -> Void) rethrows -> SampledLatents {
        let lay = cond.layout
        let c = model.config
        precondition(lay.config == c, "FlowSampler: layout is for another configuration")
        let nVideo = lay.steps * lay.videoStepSize
        let nAudio = lay.steps * lay.audioStepSize
        precondition(
            cond.videoReference.count == nVideo && cond.audioReference.count == nAudio
                && cond.videoMask.count == lay.steps * lay.height * lay.width
                && cond.audioMask.count == lay.steps * c.audioTokensPerStep
                && cond.references.count == lay.references * c.videoChannels * lay.height * lay.width,
            "FlowSampler: conditioning arrays do not match the layout")
        let conditional = model.textContext(prompt: cond.prompt, sound: cond.sound)
        let unconditional = guidance == 1 ? nil : model.textContext(prompt: "", sound: "")
        let ws = Workspace(layout: lay, maxTextTokens: max(conditional.tokens, unconditional?.tokens ?? 0))
        // Every buffer of the loop exists before it starts.
        let xv = FloatBuffer(count: nVideo)
        let xa = FloatBuffer(count: nAudio)
        let refV = FloatBuffer(cond.videoReference)
        let maskV = FloatBuffer(cond.videoMask)
        let refA = FloatBuffer(cond.audioReference)
        let maskA = FloatBuffer(cond.audioMask)
        let outV = [
            FloatBuffer(count: lay.videoClipTokens * c.videoTokenOutputs),
            FloatBuffer(count: lay.videoClipTokens * c.videoTokenOutputs),
        ]
        let outA = [
            FloatBuffer(count: lay.audioTokens * c.audioTokenOutputs),
            FloatBuffer(count: lay.audioTokens * c.audioTokenOutputs),
        ]
        let velV = FloatBuffer(count: nVideo)
        let velA = FloatBuffer(count: nAudio)
        NoiseGenerator.fill(
            xv.base, count: nVideo, key: NoiseKey(seed: cond.seed, segment: cond.segment, stream: .video))
        NoiseGenerator.fill(
            xa.base, count: nAudio, key: NoiseKey(seed: cond.seed, segment: cond.segment, stream: .audio))
        if lay.references > 0 {
            cond.references.withUnsafeBufferPointer { r in
                lay.patchifyReferences(r.baseAddress!, into: ws.videoIn.base + lay.videoClipTokens * c.videoTokenInputs)
            }
        }
        let hold = { () in
            Self.hold(
                xv.base, reference: refV.base, mask: maskV.base, positions: lay.steps * lay.height * lay.width,
                channels: c.videoChannels, plane: lay.height * lay.width)
            Self.hold(
                xa.base, reference: refA.base, mask: maskA.base, positions: lay.steps * c.audioTokensPerStep,
                channels: c.audioChannels, plane: c.audioTokensPerStep)
        }
        hold()
        let times = Self.schedule(steps: steps, shift: timeShift)
        for i in 0..<steps {
            lay.patchifyVideo(noisy: xv.base, reference: refV.base, mask: maskV.base, into: ws.videoIn.base)
            lay.patchifyAudio(noisy: xa.base, reference: refA.base, mask: maskA.base, into: ws.audioIn.base)
            model.forward(ws, text: conditional, time: times[i], videoOut: outV[0].base, audioOut: outA[0].base)
            if let unconditional {
                model.forward(ws, text: unconditional, time: times[i], videoOut: outV[1].base, audioOut: outA[1].base)
                Self.guide(outV[0].base, unconditional: outV[1].base, count: outV[0].count, scale: guidance)
                Self.guide(outA[0].base, unconditional: outA[1].base, count: outA[0].count, scale: guidance)
            }
            lay.unpatchifyVideo(outV[0].base, into: velV.base)
            lay.unpatchifyAudio(outA[0].base, into: velA.base)
            let dt = times[i + 1] - times[i]
            for n in 0..<nVideo { xv.base[n] += dt * velV.base[n] }
            for n in 0..<nAudio { xa.base[n] += dt * velA.base[n] }
            hold()
            try progress(i + 1, steps)
        }
        return SampledLatents(video: xv.array(), audio: xa.array())
    }

    /// `cond = uncond + scale · (cond - uncond)` in place.
    static func guide(
        _ cond: UnsafeMutablePointer<Float>, unconditional u: UnsafePointer<Float>, count: Int, scale: Float
    ) {
        for i in 0..<count { cond[i] = u[i] + scale * (cond[i] - u[i]) }
    }

    /// Sets every held position (mask 1, shared by all channels of a step) to its reference value.
    /// Layout `[T, channels, plane]` for values, `[T, plane]` for the mask.
    static func hold(
        _ x: UnsafeMutablePointer<Float>, reference: UnsafePointer<Float>, mask: UnsafePointer<Float>,
        positions: Int, channels: Int, plane: Int
    ) {
        for p in 0..<positions where mask[p] != 0 {
            let (t, i) = p.quotientAndRemainder(dividingBy: plane)
            for ch in 0..<channels {
                let at = (t * channels + ch) * plane + i
                x[at] = reference[at]
            }
        }
    }
}
