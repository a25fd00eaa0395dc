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
