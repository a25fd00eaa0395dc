/// Text that conditions a segment: the shot's prompt, camera and sound.
public struct ShotBrief: Hashable, Sendable {
    public var index: Int
    public var id: String
    public var prompt: String
    public var camera: String
    public var sound: String
    /// Sound changes inside the shot, as global audio sample positions.
    public var cues: [Cue]
    /// Global frame range of the whole shot.
    public var frames: TimeRange

    /// A sound change starting at a global sample.
    public struct Cue: Hashable, Sendable {
        public var sample: Int
        public var sound: String
        public init(sample: Int, sound: String) {
            self.sample = sample
            self.sound = sound
        }
    }

    public init(index: Int, id: String, prompt: String, camera: String, sound: String, cues: [Cue], frames: TimeRange) {
        self.index = index
        self.id = id
        self.prompt = prompt
        self.camera = camera
        self.sound = sound
        self.cues = cues
        self.frames = frames
    }
}

/// Latent frames held to given values while a segment is generated (overlap context, anchors, keyframes).
public struct LatentPin: Hashable, Sendable {
    /// Index in the segment's latent grid of the first pinned step.
    public var latentIndex: Int
    public var latents: Latents

    public init(latentIndex: Int, latents: Latents) {
        self.latentIndex = latentIndex
        self.latents = latents
    }
}

/// Everything an engine needs to generate one segment; no references to storage or the plan.
public struct SegmentTask: Hashable, Sendable {
    public var id: String
    public var shot: ShotBrief
    public var index: Int
    public var format: OutputFormat
    /// Global frames generated (latent-aligned length).
    public var generate: TimeRange
    /// Global frames this segment delivers (inside `generate`).
    public var own: TimeRange
    /// Global audio samples this segment delivers (`format.clock.samples(forFrames: own)`).
    public var samples: TimeRange
    public var pins: [LatentPin]
    public var seed: UInt64
    public var steps: Int
    /// Latent steps at the end of `generate` that a following segment takes as context.
    public var tailLatents: Int
    /// Keyframe images pinned to frames inside `generate` (at the film's size).
    public var keyframes: [PinnedImage]
    /// Grid references (≤ 9) that hold characters and style steady across the job.
    public var references: [StillImage]

    public init(
        id: String, shot: ShotBrief, index: Int, format: OutputFormat, generate: TimeRange, own: TimeRange,
        samples: TimeRange, pins: [LatentPin], seed: UInt64, steps: Int, tailLatents: Int,
        keyframes: [PinnedImage] = [], references: [StillImage] = []
    ) {
        self.keyframes = keyframes
        self.references = references
        self.id = id
        self.shot = shot
        self.index = index
        self.format = format
        self.generate = generate
        self.own = own
        self.samples = samples
        self.pins = pins
        self.seed = seed
        self.steps = steps
        self.tailLatents = tailLatents
    }
}

/// What an engine hands back for one segment.
public struct SegmentResult: Sendable, Equatable {
    /// Latents of the whole generated range.
    public var latents: Latents
    /// RGB frames of the owned range.
    public var frames: VideoFrames
    /// PCM of the owned samples, `format.channels` interleaved.
    public var audio: PCMBuffer
    /// The last `tailLatents` latent steps, for a following segment.
    public var tail: Latents

    public init(latents: Latents, frames: VideoFrames, audio: PCMBuffer, tail: Latents) {
        self.latents = latents
        self.frames = frames
        self.audio = audio
        self.tail = tail
    }
}

/// Asks an engine for latents at chosen frames of a shot (the anchored schedule's first pass).
public struct AnchorTask: Hashable, Sendable {
    public var id: String
    public var shot: ShotBrief
    public var format: OutputFormat
    /// Global frames, ascending; the first is the shot's first frame.
    public var frames: [Int]
    /// Pins the first anchor (a continued shot starts from the previous shot's end).
    public var start: Latents?
    public var seed: UInt64
    public var steps: Int

    public init(id: String, shot: ShotBrief, format: OutputFormat, frames: [Int], start: Latents?, seed: UInt64, steps: Int) {
        self.id = id
        self.shot = shot
        self.format = format
        self.frames = frames
        self.start = start
        self.seed = seed
        self.steps = steps
    }
}

/// Reports denoising progress: step `done` of `total`. It throws to stop the work (a cancelled task): engines call it
/// after every step and let its error end `generate`/`anchors`.
public typealias ProgressHandler = @Sendable (_ done: Int, _ total: Int) throws -> Void

/// A generator of picture and sound. The test card, the MMDiT core and a remote worker all conform.
public protocol Engine: Sendable {
    /// The storyboard's `model.engine` value this engine answers to.
    var name: String { get }
    var geometry: EngineGeometry { get }

    /// Generates one segment.
    /// - Throws: when the task does not fit the engine (size, window) or generation fails.
    func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult

    /// Produces one latent step per requested frame (one per `task.frames` entry, same order).
    func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents
}
