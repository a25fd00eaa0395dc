/// A validated storyboard with its plan: turns plan entries plus finished inputs into engine tasks.
///
/// The local renderer and the farm's coordinator both build tasks here, so a segment gets the same task (and
/// the same bits) wherever it runs.
public struct JobContext: Sendable {
    public let spec: JobSpec
    public let plan: Plan
    /// One brief per shot, in storyboard order.
    public let briefs: [ShotBrief]
    private let segmentIndex: [String: Int]

    /// The planned segment with id `id`.
    public func segment(_ id: String) -> Segment? { segmentIndex[id].map { plan.segments[$0] } }
    /// Where segment `id` stands in film order (its index in the plan's segments).
    public func position(ofSegment id: String) -> Int? { segmentIndex[id] }

    /// Decoded images by the path the storyboard names them with (keyframes and grid references).
    public let images: [String: StillImage]

    /// Plans `spec` for `geometry`.
    /// - Parameter images: the storyboard's images, decoded at the film's size; needed only to build segment tasks.
    /// - Throws: ``SpecError`` when the model settings do not fit the engine.
    public init(spec: JobSpec, geometry: EngineGeometry, source: String = "storyboard",
                images: [String: StillImage] = [:]) throws(SpecError) {
        self.spec = spec
        self.images = images
        plan = try Planner.plan(spec, geometry: geometry, source: source)
        segmentIndex = Dictionary(uniqueKeysWithValues: plan.segments.enumerated().map { ($1.id, $0) })
        let clock = spec.output.clock
        briefs = plan.shots.map { span in
            let shot = spec.shots[span.index]
            let start = clock.time(ofFrame: span.frames.lower)
            let cues = shot.cues.map { cue in
                ShotBrief.Cue(sample: clock.sample(atFrame: clock.frame(containing: start + cue.at)), sound: cue.sound)
            }
            return ShotBrief(index: span.index, id: span.id, prompt: shot.prompt, camera: shot.camera, sound: shot.sound,
                             cues: cues, frames: span.frames)
        }
    }

    /// An input a task needs has not been produced.
    public struct MissingInput: Error, CustomStringConvertible {
        public var task: String
        public var input: String
        public var description: String { "\(task): input \(input) is not available" }
    }

    /// The engine task for `segment`.
    /// - Parameters:
    ///   - tail: the tail latents of a finished segment, by id.
    ///   - anchors: the latents of a finished anchor pass, by id.
    public func segmentTask(
        _ segment: Segment, tail: (String) -> Latents?, anchors: (String) -> Latents?
    ) throws(MissingInput) -> SegmentTask {
        var pins: [LatentPin] = []
        if let context = segment.context {
            guard let latents = tail(context.source) else { throw MissingInput(task: segment.id, input: context.source) }
            // Results are checked on arrival; this guards a stored artifact that slipped past (an older store).
            guard latents.count >= context.latents else {
                throw MissingInput(task: segment.id,
                                   input: "\(context.source) (its tail has \(latents.count) steps, \(context.latents) needed)")
            }
            pins.append(LatentPin(latentIndex: 0, latents: latents.slice(latents.count - context.latents ..< latents.count)))
        }
        if let link = segment.anchors {
            guard let all = anchors(link.task) else { throw MissingInput(task: segment.id, input: link.task) }
            guard link.start >= 0, link.start < all.count, link.end >= 0, link.end < all.count else {
                throw MissingInput(task: segment.id, input: "\(link.task) (\(all.count) anchors, needs \(link.start) and \(link.end))")
            }
            pins.append(LatentPin(latentIndex: 0, latents: all.slice(link.start ..< link.start + 1)))
            pins.append(LatentPin(latentIndex: plan.geometry.latentCount(forFrames: segment.generate.count) - 1,
                                  latents: all.slice(link.end ..< link.end + 1)))
        }
        // Keyframes of this shot whose frame this segment generates; every grid reference.
        let clock = spec.output.clock
        let shot = spec.shots[segment.shot], span = plan.shots[segment.shot].frames
        var keyframes: [PinnedImage] = []
        for key in shot.keyframes {
            let frame = min(span.upper - 1, clock.frame(containing: clock.time(ofFrame: span.lower) + key.at))
            guard segment.generate.contains(frame) else { continue }
            guard let image = images[key.image] else { throw MissingInput(task: segment.id, input: "keyframe image \(key.image)") }
            keyframes.append(PinnedImage(frame: frame, image: image))
        }
        var references: [StillImage] = []
        for path in spec.references {
            guard let image = images[path] else { throw MissingInput(task: segment.id, input: "reference image \(path)") }
            references.append(image)
        }
        return SegmentTask(
            id: segment.id, shot: briefs[segment.shot], index: segment.index, format: spec.output,
            generate: segment.generate, own: segment.own, samples: segment.samples, pins: pins, seed: segment.seed,
            steps: spec.model.steps, tailLatents: segment.tailLatents, keyframes: keyframes, references: references)
    }

    /// The engine task for an anchor pass.
    public func anchorTask(_ pass: AnchorPass, anchors: (String) -> Latents?) throws(MissingInput) -> AnchorTask {
        var start: Latents?
        if let context = pass.context {
            // The previous pass holds an anchor at that shot's end, which is this shot's first frame.
            guard let all = anchors(context),
                  let previous = plan.anchors.first(where: { $0.id == context }),
                  let i = previous.frames.firstIndex(of: pass.frames[0]), i >= 0, i < all.count
            else { throw MissingInput(task: pass.id, input: context) }
            start = all.slice(i ..< i + 1)
        }
        return AnchorTask(id: pass.id, shot: briefs[pass.shot], format: spec.output, frames: pass.frames, start: start,
                          seed: pass.seed, steps: spec.model.steps)
    }
}
