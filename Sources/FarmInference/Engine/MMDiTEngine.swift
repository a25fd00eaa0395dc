import FarmCore

/// `engine: mmdit`: the dual-stream MMDiT behind the engine protocol.
///
/// A segment's pins (overlap context, anchors) hold whole latent steps of both streams; keyframe images hold
/// the video step their frame falls in; grid references join the video stream as extra tokens. Pinned steps
/// come out bit-identical to the pins, the owned frames and samples are decoded from the generated latents, and
/// the tail is the last `tailLatents` steps, as the test-card engine does it.
public struct MMDiTEngine: Engine {
    public let name = "mmdit"
    public let model: MMDiT
    public let geometry: EngineGeometry

    public init(model: MMDiT) {
        self.model = model
        geometry = Self.geometry(of: model.config)
    }

    /// The latent grid of a configuration, without weights (a coordinator plans with it).
    public static func geometry(of config: MMDiTConfig) -> EngineGeometry {
        EngineGeometry(
            temporalStride: MMDiTConfig.temporalStride, spatialStride: MMDiTConfig.spatialStride,
            latentChannels: config.videoChannels, maxWindow: config.maxWindow,
            stepLayout: LatentStepLayout(spatial: true, audio: [config.audioChannels, config.audioTokensPerStep]),
            spatialMultiple: 16)
    }

    /// A task this engine cannot run, and why.
    public struct TaskError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A still image pinned to a global frame (RGB24 of the film's size).
    public struct KeyframeImage: Sendable {
        public var frame: Int
        public var rgb: [UInt8]
        public init(frame: Int, rgb: [UInt8]) {
            self.frame = frame
            self.rgb = rgb
        }
    }

    /// Generates a segment with the task's own keyframes and grid references.
    public func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
        try generate(task, keyframes: task.keyframes.map { KeyframeImage(frame: $0.frame, rgb: $0.image.rgb) },
                     references: task.references.map(\.rgb), progress: progress)
    }

    /// Generates a segment with keyframe images and grid references (RGB24 images of the film's size, ≤ 9).
    public func generate(
        _ task: SegmentTask, keyframes: [KeyframeImage], references: [[UInt8]],
        progress: ProgressHandler
    ) throws -> SegmentResult {
        let g = geometry
        let f = task.format
        let c = model.config
        guard g.isAligned(task.generate.count), task.generate.count <= g.maxWindow else {
            throw TaskError(
                description: "\(task.id): generate range \(task.generate) is not 1 + 4k frames ≤ \(g.maxWindow)")
        }
        guard task.generate.lower <= task.own.lower, task.own.upper <= task.generate.upper else {
            throw TaskError(description: "\(task.id): owned range \(task.own) is outside generated \(task.generate)")
        }
        try checkPicture(f, task.id)
        guard references.count <= MMDiTConfig.maxReferences else {
            throw TaskError(
                description: "\(task.id): \(references.count) grid references, at most \(MMDiTConfig.maxReferences)")
        }
        let steps = g.latentCount(forFrames: task.generate.count)
        let layout = TokenLayout(
            config: c, steps: steps, height: f.height / 8, width: f.width / 8, references: references.count)
        let clock = f.clock
        var cond = Conditioning(
            layout: layout, prompt: SegmentText.prompt(task.shot),
            sound: SegmentText.sound(task.shot, samples: clock.samples(forFrames: task.generate)),
            seed: task.seed, segment: task.index)
        let codec = VideoCodec(weights: model.weights)
        for key in keyframes {
            let local = key.frame - task.generate.lower
            guard local >= 0, local < task.generate.count, key.rgb.count == f.width * f.height * 3 else {
                throw TaskError(
                    description: "\(task.id): keyframe at frame \(key.frame) is outside \(task.generate) or not "
                        + "\(f.width)×\(f.height)")
            }
            cond.holdVideo(
                step: g.latentIndex(ofFrame: local),
                latent: codec.encode(rgb: key.rgb, width: f.width, height: f.height)[...])
        }
        // Pins come last: context and anchors win over a keyframe on the same step.
        for pin in task.pins {
            try checkLayout(pin.latents, layout, task.id)
            for t in 0..<pin.latents.count where pin.latentIndex + t >= 0 && pin.latentIndex + t < steps {
                let (v, a) = (pin.latents.video.stride0, pin.latents.audio.stride0)
                cond.holdVideo(step: pin.latentIndex + t, latent: pin.latents.video.values[t * v..<(t + 1) * v])
                cond.holdAudio(step: pin.latentIndex + t, latent: pin.latents.audio.values[t * a..<(t + 1) * a])
            }
        }
        for (r, image) in references.enumerated() {
            guard image.count == f.width * f.height * 3 else {
                throw TaskError(description: "\(task.id): grid reference \(r) is not \(f.width)×\(f.height) RGB")
            }
            let latent = codec.encode(rgb: image, width: f.width, height: f.height)
            cond.references.replaceSubrange(r * latent.count..<(r + 1) * latent.count, with: latent)
        }
        let sampled = try FlowSampler(model: model, steps: max(task.steps, 1)).sample(cond) { try progress($0, $1) }
        let latents = Latents(
            video: LatentTensor(shape: [steps, c.videoChannels, layout.height, layout.width], values: sampled.video),
            audio: LatentTensor(shape: [steps, c.audioChannels, c.audioTokensPerStep], values: sampled.audio))

        var frames = VideoFrames(width: f.width, height: f.height)
        codec.decode(
            sampled.video, height: layout.height, width: layout.width,
            frames: task.own.lower - task.generate.lower..<task.own.upper - task.generate.lower, into: &frames)
        let timeline = AudioTimeline(clock: clock, firstFrame: task.generate.lower, tokensPerStep: c.audioTokensPerStep)
        let pcm = AudioCodec(weights: model.weights).decode(
            sampled.audio, steps: steps, timeline: timeline,
            samples: task.samples.lower - timeline.firstSample..<task.samples.upper - timeline.firstSample,
            channels: f.channels)
        let tail = latents.slice(steps - min(task.tailLatents, steps)..<steps)
        return SegmentResult(
            latents: latents, frames: frames, audio: PCMBuffer(channels: f.channels, samples: pcm), tail: tail)
    }

    func checkPicture(_ f: OutputFormat, _ id: String) throws {
        guard f.width % 16 == 0, f.height % 16 == 0, f.width >= 16, f.height >= 16 else {
            throw TaskError(
                description: "\(id): picture \(f.width)×\(f.height) is not a multiple of 16 (2×2 patches of 8×8)")
        }
    }

    func checkLayout(_ l: Latents, _ layout: TokenLayout, _ id: String) throws {
        let c = model.config
        let video = [c.videoChannels, layout.height, layout.width]
        let audio = [c.audioChannels, c.audioTokensPerStep]
        guard Array(l.video.shape.dropFirst()) == video, Array(l.audio.shape.dropFirst()) == audio else {
            throw TaskError(
                description: "\(id): pinned latents have shapes \(l.video.shape) and \(l.audio.shape), "
                    + "this model needs [T, \(video.map(String.init).joined(separator: ", "))] and "
                    + "[T, \(audio.map(String.init).joined(separator: ", "))]")
        }
    }
}

extension VideoFrames: VideoFramesSink {
    public mutating func appendFrame(width: Int, height: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        precondition(width == self.width && height == self.height, "VideoFrames: frame of another size")
        appendFrame(fill)
    }
}
