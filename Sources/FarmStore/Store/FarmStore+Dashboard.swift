import Foundation
import GRDB

/// One attempt of a task with its times, for the dashboard's attempts table and timeline.
public struct AttemptTiming: Sendable, Equatable, Codable {
    public var job: String
    public var key: String
    public var number: Int
    public var worker: String
    /// Wall-clock seconds.
    public var startedAt: Double
    /// `nil` while the attempt runs (the lease is open).
    public var endedAt: Double?
    /// `nil` while it runs; else `done`, `failed`, `lost`, `cancelled`, `handed-back`, `coordinator-restart`.
    public var outcome: String?
    public var error: String?

    public init(job: String, key: String, number: Int, worker: String, startedAt: Double, endedAt: Double?,
                outcome: String?, error: String?) {
        self.job = job
        self.key = key
        self.number = number
        self.worker = worker
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.outcome = outcome
        self.error = error
    }
}

extension FarmStore {
    /// The ids of jobs that start with `prefix` (at most `limit`, sorted), to resolve a short job id.
    public func jobIds(prefix: String, limit: Int) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id "
                                + "LIMIT ?2", arguments: [prefix, limit])
        }
    }

    /// Sets a job's priority; its ready tasks take it from the caller's queue, later ones from this row.
    public func setPriority(job: String, priority: Int) throws {
        noteChanged(job)
        try write { db in
            try db.execute(sql: "UPDATE jobs SET priority = ? WHERE id = ?", arguments: [priority, job])
        }
    }

    /// A job's attempts with their times: ended ones, and the open lease of each running task.
    public func attemptTimings(job: String) throws -> [AttemptTiming] {
        try read { try Self.attemptTimings($0, job: job) }
    }

    /// The latest `limit` attempts that ended at `since` (wall-clock seconds) or later, for the farm's timeline (the
    /// running ones are the coordinator's to tell: it holds the leases).
    public func endedAttempts(since: Double, limit: Int) throws -> [AttemptTiming] {
        try read { try Self.endedAttempts($0, since: since, limit: limit) }
    }

    static func attemptTimings(_ db: Database, job: String) throws -> [AttemptTiming] {
        try Row.fetchAll(db, sql: """
            SELECT job_id, key, number, worker, started_at, ended_at, outcome, error FROM attempts WHERE job_id = ?1
            UNION ALL SELECT job_id, key, attempts, worker, started_at, NULL, NULL, NULL FROM tasks
                WHERE job_id = ?1 AND state = 'running' AND worker IS NOT NULL AND started_at IS NOT NULL
            ORDER BY 5, 2, 3
            """, arguments: [job]).map(Self.timing)
    }

    /// Walks the `attempts_ended` index from its end: the cost is the rows returned, whatever the table's size.
    static func endedAttempts(_ db: Database, since: Double, limit: Int) throws -> [AttemptTiming] {
        try Row.fetchAll(db, sql: """
            SELECT job_id, key, number, worker, started_at, ended_at, outcome, error FROM attempts
                INDEXED BY attempts_ended WHERE ended_at >= ?1 ORDER BY ended_at DESC LIMIT ?2
            """, arguments: [since, limit]).reversed().map(Self.timing)
    }

    private static func timing(_ r: Row) -> AttemptTiming {
        AttemptTiming(job: r[0], key: r[1], number: r[2], worker: r[3], startedAt: r[4], endedAt: r[5], outcome: r[6],
                      error: r[7])
    }
}
