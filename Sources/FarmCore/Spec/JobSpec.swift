/// A storyboard: the film's format, the model settings and the shots in order.
public struct JobSpec: Hashable, Sendable {
    public var title: String
    public var output: OutputFormat
    public var model: ModelSpec
    public var shots: [ShotSpec]
    /// Grid reference images (≤ 9, read top-to-bottom, left-to-right) that hold characters and style steady.
    public var references: [String]
    /// What a farm worker needs to be given this job's tasks (no effect on `reelfarm render`).
    public var requires: WorkerRequirements

    public init(title: String, output: OutputFormat, model: ModelSpec, shots: [ShotSpec], references: [String] = [],
                requires: WorkerRequirements = WorkerRequirements()) {
        self.title = title
        self.output = output
        self.model = model
        self.shots = shots
        self.references = references
        self.requires = requires
    }
}

/// A job's placement on a farm (the storyboard's `requires:` section): only workers that have all of it get its
/// tasks, on top of running the job's engine at its frame size.
public struct WorkerRequirements: Hashable, Sendable {
    /// `cpu` or `gpu`; `nil` for either.
    public var device: String?
    /// Tags every eligible worker carries (`reelfarm worker --tags`), e.g. a GPU model or a site.
    public var tags: [String]
    /// The least memory an eligible worker reports, in bytes.
    public var memoryBytes: Int

    public init(device: String? = nil, tags: [String] = [], memoryBytes: Int = 0) {
        self.device = device
        self.tags = tags
        self.memoryBytes = memoryBytes
    }

    /// Whether a worker with these capabilities qualifies.
    public func admit(device workerDevice: String, tags workerTags: [String], memoryBytes workerMemory: Int) -> Bool {
        (device == nil || device == workerDevice) && tags.allSatisfy(workerTags.contains) && workerMemory >= memoryBytes
    }

    /// For people: `gpu, tags a100+studio-b, ≥ 40 GiB`; empty when anything goes.
    public var summary: String {
        var parts: [String] = []
        if let device { parts.append(device) }
        if !tags.isEmpty { parts.append("tags " + tags.joined(separator: "+")) }
        if memoryBytes > 0 { parts.append("≥ \(memoryBytes >> 30) GiB") }
        return parts.joined(separator: ", ")
    }
}

/// How segments of a shot depend on one another.
public enum Schedule: String, Hashable, Sendable, CaseIterable {
    /// Each segment waits for the previous one and continues from its tail latents.
    case chain
    /// An anchor task first fixes the latents at every segment boundary; then the segments run in parallel.
    case anchored
}

/// Which engine generates the segments and how.
public struct ModelSpec: Hashable, Sendable {
    /// Engine name, e.g. `testcard` or `mmdit`.
    public var engine: String
    /// Frames one model call generates (SkyReels-V2: 97).
    public var window: Int
    /// Frames of context consecutive segments share (SkyReels-V2: 17).
    public var overlap: Int
    public var steps: Int
    public var seed: UInt64
    public var schedule: Schedule
    /// Engine-specific model configuration name (e.g. `small`), when the engine has several.
    public var config: String?
    /// Engine-specific weights file, when the engine loads one.
    public var weights: String?
    /// A cheap first pass the storyboard asks for (`model.draft`): `submit` renders it ahead of the final.
    public var draft: DraftSettings?

    public init(
        engine: String, window: Int, overlap: Int, steps: Int, seed: UInt64, schedule: Schedule,
        config: String? = nil, weights: String? = nil
    ) {
        self.engine = engine
        self.window = window
        self.overlap = overlap
        self.steps = steps
        self.seed = seed
        self.schedule = schedule
        self.config = config
        self.weights = weights
    }
}

/// A draft of a film: the whole storyboard with fewer denoising steps at a smaller size, rendered first so a
/// reviewer sees every shot early (`model.draft: {steps: N, scale: 1/2}`, or `reelfarm submit --draft`).
public struct DraftSettings: Hashable, Sendable, Codable {
    public var steps: Int
    /// Of each side of the frame, in (0, 1]; sides are then rounded down to a multiple of 16 and kept at least the
    /// smallest size a storyboard may ask for.
    public var scale: Rational

    public init(steps: Int, scale: Rational) {
        self.steps = steps
        self.scale = scale
    }

    /// `submit --draft` for a storyboard that names no draft: a quarter of the steps (at least one), half size.
    public static func standard(for model: ModelSpec) -> DraftSettings {
        DraftSettings(steps: max(1, model.steps / 4), scale: Rational(1, 2))
    }

    enum CodingKeys: String, CodingKey { case steps, scale }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decode(Int.self, forKey: .steps)
        let text = try c.decode(String.self, forKey: .scale)
        guard let r = Rational(parsing: text) else {
            throw DecodingError.dataCorruptedError(forKey: .scale, in: c, debugDescription: "scale \(text.prefix(32)) is not a fraction")
        }
        scale = r
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encode("\(scale.numerator)/\(scale.denominator)", forKey: .scale)
    }

    /// Why these settings cannot draft a model with `steps` steps, or nil when they can.
    public func problem(forSteps modelSteps: Int) -> String? {
        if !SpecLimits.steps.contains(steps) { return "steps must be in \(SpecLimits.steps) (got \(steps))" }
        if steps > modelSteps { return "steps must be at most model.steps (\(steps) > \(modelSteps))" }
        if !(scale.isPositive && scale <= Rational(1)) { return "scale must be in (0, 1] (got \(scale.numerator)/\(scale.denominator))" }
        return nil
    }
}

extension JobSpec {
    /// This storyboard as its draft renders it: `draft.steps` steps, each side scaled and rounded down to a multiple
    /// of ``SpecLimits/sizeMultiple``, at least ``SpecLimits/minWidth`` × ``SpecLimits/minHeight``. Shots, timing, sound
    /// and seeds are the same, so the draft's film has the final's frames and samples.
    public func drafted(_ draft: DraftSettings) -> JobSpec {
        var s = self
        s.model.steps = draft.steps
        s.model.draft = nil
        func side(_ v: Int, least: Int) -> Int {
            let scaled = Int((Int64(v) * draft.scale.numerator) / max(1, draft.scale.denominator))
            return max(least, scaled / SpecLimits.sizeMultiple * SpecLimits.sizeMultiple)
        }
        s.output.width = min(output.width, side(output.width, least: SpecLimits.minWidth))
        s.output.height = min(output.height, side(output.height, least: SpecLimits.minHeight))
        s.title = String((title + " (draft)").prefix(256))
        return s
    }
}

/// How a shot begins relative to the one before it.
public enum Transition: String, Hashable, Sendable, CaseIterable {
    /// A hard cut: the shot starts from its own seed.
    case cut
    /// The shot carries picture and sound context from the end of the previous shot.
    case `continue`
}

/// How long a shot lasts, as written: seconds (exact) or frames.
public enum ShotLength: Hashable, Sendable {
    case seconds(Rational)
    case frames(Int)
}

/// A sound change at a time inside a shot (seconds from the shot's start).
public struct SoundCue: Hashable, Sendable {
    public var at: Rational
    public var sound: String
    public init(at: Rational, sound: String) {
        self.at = at
        self.sound = sound
    }
}

/// A still image pinned to a time inside a shot (seconds from the shot's start).
public struct Keyframe: Hashable, Sendable {
    public var at: Rational
    public var image: String
    public init(at: Rational, image: String) {
        self.at = at
        self.image = image
    }
}

/// One shot of the storyboard.
public struct ShotSpec: Hashable, Sendable {
    public var id: String
    public var length: ShotLength
    public var prompt: String
    public var camera: String
    public var sound: String
    public var transition: Transition
    public var cues: [SoundCue]
    public var keyframes: [Keyframe]

    public init(
        id: String, length: ShotLength, prompt: String, camera: String = "", sound: String = "",
        transition: Transition = .cut, cues: [SoundCue] = [], keyframes: [Keyframe] = []
    ) {
        self.id = id
        self.length = length
        self.prompt = prompt
        self.camera = camera
        self.sound = sound
        self.transition = transition
        self.cues = cues
        self.keyframes = keyframes
    }
}
