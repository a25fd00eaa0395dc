import Foundation
import GRDB

/// A read-only view of the store for threads other than the coordinator loop's (the dashboard's server): connections
/// of its own (the database is in WAL mode), so its reads never wait on the loop's transaction nor hold it up, and
/// never touch the loop's connection. What it reads may be a commit behind the loop; never half a commit.
public final class StoreReader: Sendable {
    private let pool: DatabasePool

    /// Opens the store the coordinator keeps in `directory` (it must exist: the reader creates and migrates nothing).
    public init(directory: URL) throws {
        var config = Configuration()
        config.readonly = true
        config.maximumReaderCount = 2
        config.busyMode = .timeout(5)
        pool = try DatabasePool(path: directory.appendingPathComponent("reelfarm.sqlite").path, configuration: config)
    }

    /// A job's storyboard (for its shots), or `nil` when there is no such job.
    public func storyboard(job: String) throws -> (text: String, source: String)? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT storyboard, source FROM jobs WHERE id = ?", arguments: [job])
                .map { ($0["storyboard"], $0["source"]) }
        }
    }

    /// A job's tasks in film order (anchor passes first).
    public func tasks(job: String) throws -> [TaskRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE job_id = ? ORDER BY position", arguments: [job]).map {
                TaskRecord(key: $0["key"], kind: $0["kind"], shot: $0["shot"], position: $0["position"],
                           frames: $0["frames"], state: $0["state"], attempts: $0["attempts"], failures: $0["failures"],
                           worker: $0["worker"], step: $0["step"], steps: $0["steps"], error: $0["error"])
            }
        }
    }

    /// See ``FarmStore/attemptTimings(job:)``.
    public func attemptTimings(job: String) throws -> [AttemptTiming] {
        try pool.read { try FarmStore.attemptTimings($0, job: job) }
    }

    /// See ``FarmStore/endedAttempts(since:limit:)``.
    public func endedAttempts(since: Double, limit: Int) throws -> [AttemptTiming] {
        try pool.read { try FarmStore.endedAttempts($0, since: since, limit: limit) }
    }
}
