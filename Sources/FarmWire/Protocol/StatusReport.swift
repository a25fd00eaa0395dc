/// `reply` to `submit`.
public struct Submitted: Codable, Sendable, Equatable {
    public var job: String
    public var tasks: Int
    public var frames: Int
    /// Tasks that took a finished task's outputs (same reuse key) instead of running; the rest run.
    public var reused: Int?
    /// The film's first job and this job's revision number (1 for a new film).
    public var film: String?
    public var revision: Int?
    public init(job: String, tasks: Int, frames: Int, reused: Int? = nil, film: String? = nil, revision: Int? = nil) {
        self.reused = reused
        self.film = film
        self.revision = revision
        self.job = job
        self.tasks = tasks
        self.frames = frames
    }
}

/// One job in a `status` reply.
public struct JobSummary: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    public var state: String
    public var priority: Int
    public var tasksDone: Int
    public var tasksTotal: Int
    public var framesDone: Int
    public var framesTotal: Int
    public var error: String?
    public var filmBytes: Int?
    /// Seconds since the job's first task started, up to now or to when the job ended; absent before any started.
    public var runningSeconds: Double?
    /// Seconds still to go at the rate frames have been finishing so far; absent until a frame is done and once
    /// every frame is (assembly is not counted).
    public var etaSeconds: Double?
    /// Why ready tasks are not running: no connected worker qualifies for the job (engine, frame size, `requires:`).
    public var waiting: String?
    /// The film's first job and this job's revision (absent: revision 1 of its own film, from an older coordinator).
    public var film: String?
    public var revision: Int?
    /// Tasks that took a finished task's outputs instead of running.
    public var reused: Int?
    public init(id: String, title: String, state: String, priority: Int, tasksDone: Int, tasksTotal: Int,
                framesDone: Int, framesTotal: Int, error: String?, filmBytes: Int?, runningSeconds: Double? = nil,
                etaSeconds: Double? = nil, waiting: String? = nil, film: String? = nil, revision: Int? = nil,
                reused: Int? = nil) {
        self.film = film
        self.revision = revision
        self.reused = reused
        self.id = id
        self.title = title
        self.state = state
        self.priority = priority
        self.tasksDone = tasksDone
        self.tasksTotal = tasksTotal
        self.framesDone = framesDone
        self.framesTotal = framesTotal
        self.error = error
        self.filmBytes = filmBytes
        self.runningSeconds = runningSeconds
        self.etaSeconds = etaSeconds
        self.waiting = waiting
    }

    /// The estimate of ``etaSeconds``: the time spent so far scaled by the frames left over the frames done.
    /// - Returns: `nil` when nothing is done yet or nothing is left.
    public static func eta(runningSeconds: Double, framesDone: Int, framesTotal: Int) -> Double? {
        guard framesDone > 0, framesTotal > framesDone else { return nil }
        return runningSeconds * Double(framesTotal - framesDone) / Double(framesDone)
    }
}

/// One task in a job's `status` reply.
public struct TaskSummary: Codable, Sendable, Equatable {
    public var key: String
    public var shot: Int
    public var state: String
    public var attempts: Int
    public var worker: String?
    public var step: Int
    public var steps: Int
    public var frames: Int
    public var error: String?
    /// `job:key` of the finished task whose outputs this one took (it did not run).
    public var reusedFrom: String?
    public init(key: String, shot: Int, state: String, attempts: Int, worker: String?, step: Int, steps: Int, frames: Int,
                error: String?, reusedFrom: String? = nil) {
        self.reusedFrom = reusedFrom
        self.key = key
        self.shot = shot
        self.state = state
        self.attempts = attempts
        self.worker = worker
        self.step = step
        self.steps = steps
        self.frames = frames
        self.error = error
    }
}

/// One lease in a job's history.
public struct AttemptSummary: Codable, Sendable, Equatable {
    public var key: String
    public var number: Int
    public var worker: String
    public var outcome: String?
    public init(key: String, number: Int, worker: String, outcome: String?) {
        self.key = key
        self.number = number
        self.worker = worker
        self.outcome = outcome
    }
}

/// `reply` to `status`: all jobs, or one job with its tasks, shots and lease history.
public struct StatusReport: Codable, Sendable, Equatable {
    public var jobs: [JobSummary]
    public var shots: [String]?
    public var tasks: [TaskSummary]?
    public var attempts: [AttemptSummary]?
    public init(jobs: [JobSummary], shots: [String]? = nil, tasks: [TaskSummary]? = nil, attempts: [AttemptSummary]? = nil) {
        self.jobs = jobs
        self.shots = shots
        self.tasks = tasks
        self.attempts = attempts
    }
}

/// One worker in a `workers` reply.
public struct WorkerSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var state: String
    public var engines: [String]
    public var device: String
    public var slots: Int
    public var busy: Int
    public var tags: [String]
    public var secondsSinceSeen: Double
    /// The device memory it reported in its hello, in bytes (absent from coordinators before it was added).
    public var memoryBytes: Int64?
    /// The tasks it runs now, as `JOB:KEY` (absent when it runs none, and from older coordinators).
    public var tasks: [String]?
    public init(id: String, name: String, state: String, engines: [String], device: String, slots: Int, busy: Int,
                tags: [String], secondsSinceSeen: Double, memoryBytes: Int64? = nil, tasks: [String]? = nil) {
        self.id = id
        self.name = name
        self.state = state
        self.engines = engines
        self.device = device
        self.slots = slots
        self.busy = busy
        self.tags = tags
        self.secondsSinceSeen = secondsSinceSeen
        self.memoryBytes = memoryBytes
        self.tasks = tasks
    }
}

/// `reply` to `workers`: one page of the workers (connected ones first; at most ``pageSize``), how many there are,
/// and the messages the coordinator refused, by reason.
public struct WorkersReport: Codable, Sendable, Equatable {
    public var workers: [WorkerSummary]
    public var refused: [String: Int]
    /// Where this page starts among the workers that have not left, and how many of those there are.
    public var offset: Int?
    public var total: Int?
    /// Connected workers, and every worker the farm has seen by state (`alive`, `dead`, `gone`, …).
    public var connected: Int?
    public var states: [String: Int]?
    /// How many workers the coordinator's file-descriptor limit allows at once.
    public var capacity: Int?
    /// The most workers one reply lists.
    public static let pageSize = 500

    public init(workers: [WorkerSummary], refused: [String: Int], offset: Int? = nil, total: Int? = nil, connected: Int? = nil,
                states: [String: Int]? = nil, capacity: Int? = nil) {
        self.workers = workers
        self.refused = refused
        self.offset = offset
        self.total = total
        self.connected = connected
        self.states = states
        self.capacity = capacity
    }
}

/// The reply to `retry_job`: the job runs again from its finished tasks.
public struct Retried: Codable, Sendable, Equatable {
    public var job: String
    /// Tasks to run again (every task that was not done).
    public var requeuedTasks: Int
    public init(job: String, requeuedTasks: Int) {
        self.job = job
        self.requeuedTasks = requeuedTasks
    }
}

/// The reply to `delete_job`: the job is gone from the store, with its film and every artifact only it used.
public struct Deleted: Codable, Sendable, Equatable {
    public var job: String
    /// Artifact files removed (the film, and intermediates no other job refers to).
    public var removedArtifacts: Int
    /// Their bytes together.
    public var freedBytes: Int
    public init(job: String, removedArtifacts: Int, freedBytes: Int) {
        self.job = job
        self.removedArtifacts = removedArtifacts
        self.freedBytes = freedBytes
    }
}

/// `reply` to `cancel_job`.
public struct Cancelled: Codable, Sendable, Equatable {
    public var job: String
    public var stoppedTasks: Int
    public init(job: String, stoppedTasks: Int) {
        self.job = job
        self.stoppedTasks = stoppedTasks
    }
}

/// `set_priority`: a new priority for an unfinished job (an id or a unique prefix); its queued tasks move at once.
/// The reply is the job's summary, as `status` gives it.
public struct JobPriority: Codable, Sendable, Equatable {
    public var job: String
    public var priority: Int
    /// The priorities a job may have.
    public static let range = -1_000_000...1_000_000
    public init(job: String, priority: Int) {
        self.job = job
        self.priority = priority
    }
}

/// `worker_control`: what to do with a worker.
public struct WorkerControl: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        /// Ask it to leave: no new task; it finishes those it runs, says bye and exits.
        case drain
        /// Give it no task until enabled (it stays connected and finishes what it runs), across reconnects and restarts.
        case disable
        /// Undo `disable`.
        case enable
    }
    public var worker: String
    public var action: Action
    public init(worker: String, action: Action) {
        self.worker = worker
        self.action = action
    }
}

/// The reply to `worker_control` (and to the dashboard's drain, disable and enable).
public struct WorkerState: Codable, Sendable, Equatable {
    public var id: String
    /// `disabled`, `alive`, `draining` (it drains itself), `leaving` (asked to drain) or `disconnected`.
    public var state: String
    /// Tasks it still runs.
    public var busy: Int
    public init(id: String, state: String, busy: Int) {
        self.id = id
        self.state = state
        self.busy = busy
    }
}
