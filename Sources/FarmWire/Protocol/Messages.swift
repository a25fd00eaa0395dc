import FarmCore
import Foundation

/// A task assignment's identity: the task and the attempt number that leases it to one worker.
public struct Lease: Codable, Hashable, Sendable, CustomStringConvertible {
    /// `"<job id>:<task key>"`, e.g. `j3f2a:eyes/1`.
    public var task: String
    public var attempt: Int
    public init(task: String, attempt: Int) {
        self.task = task
        self.attempt = attempt
    }
    public var description: String { "\(task)#\(attempt)" }
}

/// `hello`: a worker registers with what it can run.
public struct Hello: Codable, Sendable, Equatable {
    public var name: String
    public var engines: [String]
    /// `cpu` or `gpu`.
    public var device: String
    public var slots: Int
    public var memoryBytes: Int64
    /// Largest width × height it renders.
    public var maxFramePixels: Int
    public var tags: [String]
    /// Leases it is still working on (after a reconnect).
    public var running: [Lease]
    /// A random id the worker process picks once at start (16–64 hex digits) and sends in every `hello`: the
    /// coordinator keeps the worker's id across its reconnects and the coordinator's restarts.
    public var instance: String?
    /// The latent grid of each engine it runs in engine processes, as their handshakes declared it (engine name →
    /// geometry); the coordinator plans jobs for engines it does not build in with these.
    public var geometries: [String: GeometryDocument]?
    /// Each engine's identity (engine name → version, as its code and weights make it; built-in engines say the
    /// reelfarm version). A finished task is reused by later jobs only if the engine that ran it said the identity
    /// the task's reuse key was made with.
    public var versions: [String: String]?
    public init(name: String, engines: [String], device: String, slots: Int, memoryBytes: Int64, maxFramePixels: Int,
                tags: [String], running: [Lease], instance: String? = nil, geometries: [String: GeometryDocument]? = nil,
                versions: [String: String]? = nil) {
        self.versions = versions
        self.instance = instance
        self.geometries = geometries
        self.name = name
        self.engines = engines
        self.device = device
        self.slots = slots
        self.memoryBytes = memoryBytes
        self.maxFramePixels = maxFramePixels
        self.tags = tags
        self.running = running
    }
}

/// `welcome`: the coordinator accepts a worker.
public struct Welcome: Codable, Sendable, Equatable {
    public var workerId: String
    public var heartbeatMillis: Int
    public var deadAfterMillis: Int
    public var maxMessageBytes: Int
    public var pieceBytes: Int
    /// Leases the worker reported that are no longer its own: it must drop them.
    public var drop: [Lease]
    /// How often the coordinator sends this worker a heartbeat; coordinators that do not send it beat every 2 s. The
    /// worker counts the coordinator silent after 2.5 periods.
    public var beatMillis: Int?
    public init(workerId: String, heartbeatMillis: Int, deadAfterMillis: Int, maxMessageBytes: Int, pieceBytes: Int, drop: [Lease],
                beatMillis: Int? = nil) {
        self.workerId = workerId
        self.heartbeatMillis = heartbeatMillis
        self.deadAfterMillis = deadAfterMillis
        self.maxMessageBytes = maxMessageBytes
        self.pieceBytes = pieceBytes
        self.drop = drop
        self.beatMillis = beatMillis
    }

    /// How long the worker waits for any message before it counts the coordinator silent: 2.5 beat periods (5 s
    /// for a coordinator that does not say), so one lost beat never counts; within 1...600 s whatever the coordinator says.
    public var silenceMillis: Int { min(max(beatMillis ?? 2_000, 400), 240_000) * 5 / 2 }
}

/// `heartbeat`, both ways every second; a worker lists its running leases.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var running: [Lease]
    public init(running: [Lease] = []) { self.running = running }
}

/// `assign`: one task for a worker. Pinned latents travel as blobs, `pins[i].blob` indexing them.
public struct Assign: Codable, Sendable, Equatable {
    public var lease: Lease
    public var model: ModelDescription
    public var segment: SegmentDescription?
    public var anchors: AnchorDescription?
    public init(lease: Lease, model: ModelDescription, segment: SegmentDescription?, anchors: AnchorDescription?) {
        self.lease = lease
        self.model = model
        self.segment = segment
        self.anchors = anchors
    }
}

/// `progress`: denoising step `step` of `steps`.
public struct TaskProgress: Codable, Sendable, Equatable {
    public var lease: Lease
    public var step: Int
    public var steps: Int
    public init(lease: Lease, step: Int, steps: Int) {
        self.lease = lease
        self.step = step
        self.steps = steps
    }
}

/// `result_part`: a piece of one output of a task; one blob of at most `piece_bytes`.
public struct ResultPart: Codable, Sendable, Equatable {
    public var lease: Lease
    /// `chunk`, `audio`, `tail` or `anchors`.
    public var output: String
    public var offset: Int
    public var total: Int
    public init(lease: Lease, output: String, offset: Int, total: Int) {
        self.lease = lease
        self.output = output
        self.offset = offset
        self.total = total
    }
}

/// One output of a finished task, checked by size and SHA-256 once all its parts arrived.
public struct OutputDigest: Codable, Sendable, Equatable {
    public var output: String
    public var size: Int
    public var sha256: String
    /// The index of the `result` blob that carries this output whole; `nil` when it came as `result_part` pieces.
    public var blob: Int?
    public init(output: String, size: Int, sha256: String, blob: Int? = nil) {
        self.output = output
        self.size = size
        self.sha256 = sha256
        self.blob = blob
    }
}

/// `result`: the task finished; its outputs were sent as parts before.
public struct TaskResult: Codable, Sendable, Equatable {
    public var lease: Lease
    public var outputs: [OutputDigest]
    public init(lease: Lease, outputs: [OutputDigest]) {
        self.lease = lease
        self.outputs = outputs
    }
}

/// `failed`: the task could not be done (engine error), or was handed back (`handed_back` when draining).
public struct TaskFailed: Codable, Sendable, Equatable {
    public var lease: Lease
    public var reason: String
    public var handedBack: Bool
    public init(lease: Lease, reason: String, handedBack: Bool = false) {
        self.lease = lease
        self.reason = reason
        self.handedBack = handedBack
    }
}

/// `cancel_task`: stop working on a lease.
public struct CancelTask: Codable, Sendable, Equatable {
    public var lease: Lease
    public var reason: String
    public init(lease: Lease, reason: String) {
        self.lease = lease
        self.reason = reason
    }
}

/// `bye`: the worker is leaving.
public struct Bye: Codable, Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// `drain`: the coordinator asks a worker to leave: take no task, finish those it runs, say `bye`, exit.
public struct Drain: Codable, Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// `submit`: a client submits a storyboard (its text, so the coordinator validates exactly what it will render).
public struct Submit: Codable, Sendable, Equatable {
    public var storyboard: String
    public var source: String
    public var priority: Int
    /// Where the storyboard's relative paths (weights, images) are, as the coordinator's machine sees them.
    public var baseDirectory: String?
    /// The storyboard's images (keyframes, references), carried as blobs of this message: the coordinator keeps them
    /// and never reads the submitter's files. `nil` from an older client: the coordinator reads the paths once.
    public var assets: [SubmitAsset]?
    /// The job this one revises (`submit --revise`): the new job is the film's next revision. Absent: a new film.
    public var revise: String?
    /// `false` runs every task even where a finished task with the same reuse key exists (`submit --no-reuse`).
    /// Absent: reuse.
    public var reuse: Bool?
    /// Render this storyboard as its draft (fewer steps, smaller): `submit --draft` sends the draft with this, then
    /// the final as its revision.
    public var draft: DraftSettings?
    /// Each shot's first segment runs ahead of the job's other tasks (`submit --preview-first`).
    public var previewFirst: Bool?
    public init(storyboard: String, source: String, priority: Int, baseDirectory: String? = nil, assets: [SubmitAsset]? = nil,
                revise: String? = nil, reuse: Bool? = nil, draft: DraftSettings? = nil, previewFirst: Bool? = nil) {
        self.draft = draft
        self.previewFirst = previewFirst
        self.revise = revise
        self.reuse = reuse
        self.assets = assets
        self.storyboard = storyboard
        self.source = source
        self.priority = priority
        self.baseDirectory = baseDirectory
    }
}

/// One image file a submitted storyboard names: its path exactly as the storyboard resolves it (absolute, with
/// `base_directory`), its SHA-256 (hex, lowercase) and the blob of the `submit` message that holds its bytes.
public struct SubmitAsset: Codable, Sendable, Equatable {
    public var path: String
    public var sha256: String
    public var blob: Int
    public init(path: String, sha256: String, blob: Int) {
        self.path = path
        self.sha256 = sha256
        self.blob = blob
    }
}

/// `status`, `cancel_job`, `fetch`, `workers`: a client's question about one job (or all when `job` is nil).
public struct JobQuery: Codable, Sendable, Equatable {
    public var job: String?
    public var offset: Int?
    public init(job: String?, offset: Int? = nil) {
        self.job = job
        self.offset = offset
    }
}

/// `job_plan`'s reply: what a client needs to plan a job exactly as the coordinator did (the storyboard as submitted
/// and the latent grid it was planned with), e.g. to lay its film out by shot and segment.
public struct JobPlan: Codable, Sendable, Equatable {
    public var job: String
    public var source: String
    public var storyboard: String
    public var baseDirectory: String?
    /// `nil` for a job from before the grid was kept with it.
    public var geometry: GeometryDocument?
    /// A draft's settings: the job was planned from the storyboard drafted with them (``JobSpec/drafted(_:)``).
    public var draft: DraftSettings?

    public init(job: String, source: String, storyboard: String, baseDirectory: String?, geometry: GeometryDocument?,
                draft: DraftSettings? = nil) {
        self.draft = draft
        self.job = job
        self.source = source
        self.storyboard = storyboard
        self.baseDirectory = baseDirectory
        self.geometry = geometry
    }
}

/// `film_part`: bytes `[offset, offset + blob)` of a finished film of `total` bytes.
public struct FilmPart: Codable, Sendable, Equatable {
    public var job: String
    public var offset: Int
    public var total: Int
    public init(job: String, offset: Int, total: Int) {
        self.job = job
        self.offset = offset
        self.total = total
    }
}

/// `refused`: why a message was not accepted; `issues` lists a storyboard's broken rules.
public struct Refusal: Codable, Sendable, Equatable {
    public var kind: WireError.Kind
    public var message: String
    public var issues: [String]
    public init(kind: WireError.Kind, message: String, issues: [String] = []) {
        self.kind = kind
        self.message = message
        self.issues = issues
    }
}
