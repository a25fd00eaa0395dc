// The task and job states, in a file of their own (Flamenco's `task_state_machine`): the edges a task may move along
// are listed here, beside the SQL in FarmStore+Leases.swift that moves it.

/// The states a task moves through; see `TaskState.transitions`.
public enum TaskState: String, Sendable, CaseIterable {
    /// Some dependency is not done.
    case waiting
    /// All dependencies done; queued for a worker.
    case ready
    /// Leased to a worker under the current attempt number.
    case running
    case done
    /// Its job was cancelled or failed.
    case cancelled

    /// Allowed moves. `running → ready` is a retry (failure, lost worker, hand-back, coordinator restart).
    public static let transitions: [TaskState: Set<TaskState>] = [
        .waiting: [.ready, .cancelled],
        .ready: [.running, .cancelled],
        .running: [.done, .ready, .cancelled],
        .done: [],
        .cancelled: [],
    ]
}

/// The states of a job.
public enum JobState: String, Sendable, CaseIterable, Codable {
    case queued, running, assembling, done, failed, cancelled

    public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }
}
