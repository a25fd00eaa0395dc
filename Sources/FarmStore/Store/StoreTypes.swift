/// A task's identity: its job and its key inside the job (`eyes/1`, `eyes/anchors`).
public struct TaskKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var job: String
    public var key: String

    public init(job: String, key: String) {
        self.job = job
        self.key = key
    }

    /// Parses `"<job>:<key>"`, the form leases use on the wire.
    public init?(id: String) {
        guard let colon = id.firstIndex(of: ":") else { return nil }
        job = String(id[..<colon])
        key = String(id[id.index(after: colon)...])
        guard !job.isEmpty, !key.isEmpty else { return nil }
    }

    public var id: String { "\(job):\(key)" }
    public var description: String { id }
    public static func < (l: TaskKey, r: TaskKey) -> Bool { (l.job, l.key) < (r.job, r.key) }
}

/// A new job with its whole task graph.
public struct NewJob: Sendable {
    public var id: String
    public var title: String
    public var source: String
    public var storyboard: String
    public var priority: Int
    public var tasks: [NewTask]
    public var baseDirectory: String?
    /// The first revision's job id when this job revises a film (`submit --revise`); nil for a film's first job.
    public var lineage: String?
    /// 1 for a film's first job, then one more for each revision.
    public var revision: Int
    /// The engine's identity (its declared version) that the tasks' reuse keys were made with.
    public var engineVersion: String?
    /// A draft's settings as JSON (``FarmCore/DraftSettings``): the storyboard is planned drafted.
    public var draft: String?

    public init(id: String, title: String, source: String, storyboard: String, priority: Int, tasks: [NewTask],
                baseDirectory: String? = nil, lineage: String? = nil, revision: Int = 1, engineVersion: String? = nil,
                draft: String? = nil) {
        self.draft = draft
        self.baseDirectory = baseDirectory
        self.lineage = lineage
        self.revision = revision
        self.engineVersion = engineVersion
        self.id = id
        self.title = title
        self.source = source
        self.storyboard = storyboard
        self.priority = priority
        self.tasks = tasks
    }
}

/// One task of a new job.
public struct NewTask: Sendable {
    public var key: String
    public var kind: String
    public var shot: Int
    public var position: Int
    public var frames: Int
    public var dependsOn: [String]
    public var remaining: Int
    /// The digest of everything that decides the task's output (``FarmStore/reusable(_:)``); nil: never reused.
    public var reuseKey: String?
    /// A finished task of another job with the same reuse key: this task is stored done with its outputs.
    public var reuse: ReusableTask?

    public init(key: String, kind: String, shot: Int, position: Int, frames: Int, dependsOn: [String], remaining: Int,
                reuseKey: String? = nil, reuse: ReusableTask? = nil) {
        self.reuseKey = reuseKey
        self.reuse = reuse
        self.key = key
        self.kind = kind
        self.shot = shot
        self.position = position
        self.frames = frames
        self.dependsOn = dependsOn
        self.remaining = remaining
    }
}

/// A finished task whose outputs a new task with the same reuse key takes instead of running.
public struct ReusableTask: Sendable, Equatable {
    /// `job:key` of the task that ran.
    public var from: TaskKey
    /// Output name (`chunk`, `audio`, `tail`, `anchors`) → artifact hash.
    public var outputs: [String: String]

    public init(from: TaskKey, outputs: [String: String]) {
        self.from = from
        self.outputs = outputs
    }
}

/// A task that can be given to a worker, with what orders it in the queue.
public struct ReadyTask: Sendable, Hashable {
    public var task: TaskKey
    public var priority: Int
    public var remaining: Int
    public var readyAt: Double

    public init(task: TaskKey, priority: Int, remaining: Int, readyAt: Double) {
        self.task = task
        self.priority = priority
        self.remaining = remaining
        self.readyAt = readyAt
    }

    /// Queue order: job priority, then the longest remaining path, then age.
    public static func runsBefore(_ a: ReadyTask, _ b: ReadyTask) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.remaining != b.remaining { return a.remaining > b.remaining }
        if a.readyAt != b.readyAt { return a.readyAt < b.readyAt }
        return a.task < b.task
    }
}

/// A job as the store holds it.
public struct JobRecord: Sendable, Codable, Equatable {
    public var id: String
    public var title: String
    public var source: String
    public var storyboard: String
    public var priority: Int
    public var state: JobState
    public var error: String?
    public var film: String?
    public var filmSize: Int?
    public var createdAt: Double
    public var finishedAt: Double?
    public var baseDirectory: String?
    /// The first revision's job id (the film this job is a revision of); nil for a film's first job.
    public var lineage: String?
    public var revision: Int = 1
    /// The engine identity the job's reuse keys were made with.
    public var engineVersion: String?
    /// A draft's settings as JSON; nil for a job rendered as its storyboard says.
    public var draft: String?
    /// The id of the film's first job: the lineage, or this job itself.
    public var filmID: String { lineage ?? id }
}

/// A task as the store holds it.
public struct TaskRecord: Sendable, Codable, Equatable {
    public var key: String
    public var kind: String
    public var shot: Int
    public var position: Int
    public var frames: Int
    public var state: String
    public var attempts: Int
    public var failures: Int
    public var worker: String?
    public var step: Int
    public var steps: Int
    public var error: String?
}

/// One lease in a task's history.
public struct AttemptRecord: Sendable, Codable, Equatable {
    public var key: String
    public var number: Int
    public var worker: String
    public var outcome: String?
    public var error: String?
}

/// A worker as the store holds it.
public struct WorkerRecord: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var engines: [String]
    public var device: String
    public var slots: Int
    public var memory: Int64
    public var maxPixels: Int
    public var tags: [String]
    public var state: String
    public var lastSeen: Double

    public init(id: String, name: String, engines: [String], device: String, slots: Int, memory: Int64, maxPixels: Int,
                tags: [String], state: String, lastSeen: Double) {
        self.id = id
        self.name = name
        self.engines = engines
        self.device = device
        self.slots = slots
        self.memory = memory
        self.maxPixels = maxPixels
        self.tags = tags
        self.state = state
        self.lastSeen = lastSeen
    }
}

/// A result or progress report under a lease that is no longer current.
public struct StaleLease: Error, CustomStringConvertible, Sendable {
    public var task: TaskKey
    public var attempt: Int
    public var current: Int
    public var state: String
    public var description: String { "\(task)#\(attempt) is stale (task is \(state) under attempt \(current))" }
}

/// A request the store cannot carry out, with what and why.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A job's task totals, for listings (``FarmStore/jobTotals()``).
public struct JobTotals: Sendable, Equatable {
    /// A job without tasks.
    public static let empty = JobTotals(tasksTotal: 0, tasksDone: 0, framesTotal: 0, framesDone: 0, anyReady: false,
                                       firstStart: nil)

    public var tasksTotal: Int
    public var tasksDone: Int
    public var framesTotal: Int
    public var framesDone: Int
    /// Whether any task waits in the ready queue.
    public var anyReady: Bool
    /// The earliest start of any attempt.
    public var firstStart: Double?

    public init(tasksTotal: Int, tasksDone: Int, framesTotal: Int, framesDone: Int, anyReady: Bool, firstStart: Double?) {
        self.tasksTotal = tasksTotal
        self.tasksDone = tasksDone
        self.framesTotal = framesTotal
        self.framesDone = framesDone
        self.anyReady = anyReady
        self.firstStart = firstStart
    }
}
