import FarmCore
import Foundation
import GRDB

/// Reuse across jobs and revisions of a film: finished tasks by reuse key, a film's revisions, the engine identities
/// workers declared, and the finished segments a restarted coordinator rebuilds films in progress from.
extension FarmStore {
    /// Finished tasks, one per reuse key among `keys`, whose outputs are all still stored (a job finished without
    /// keeping its intermediates has none): the oldest job's, so that revisions keep pointing at one run.
    public func reusable(_ keys: [String]) throws -> [String: ReusableTask] {
        guard !keys.isEmpty else { return [:] }
        return try read { db in
            var out: [String: ReusableTask] = [:]
            let s = try db.makeStatement(sql: """
                SELECT t.job_id, t.key, t.kind, t.chunk, t.audio, t.tail, t.anchors FROM tasks t JOIN jobs j ON j.id = t.job_id
                WHERE t.reuse_key = ? AND t.state = 'done' ORDER BY j.created_at, t.job_id LIMIT 8
                """)
            for key in Set(keys) {
                for r in try Row.fetchAll(s, arguments: [key]) {
                    var outputs: [String: String] = [:]
                    for name in Self.outputNames { if let h: String = r[name] { outputs[name] = h } }
                    let kind: String = r["kind"]
                    // A segment needs its chunk and sound; an anchor pass its anchors (a tail only if it made one:
                    // checked by the caller against the plan).
                    let complete = kind == "anchors" ? outputs["anchors"] != nil : outputs["chunk"] != nil && outputs["audio"] != nil
                    guard complete else { continue }
                    out[key] = ReusableTask(from: TaskKey(job: r["job_id"], key: r["key"]), outputs: outputs)
                    break
                }
            }
            return out
        }
    }

    /// A finished segment's place in its film and its chunk and PCM artifacts.
    public struct FinishedSegment: Sendable, Equatable {
        public var position: Int
        public var key: String
        public var chunk: String
        public var audio: String
    }

    /// The finished segments of every queued or running job, in film order by job, in one read (a restarted
    /// coordinator builds their films in progress again from them).
    public func finishedSegmentsOfUnfinishedJobs() throws -> [String: [FinishedSegment]] {
        try read { db in
            var out: [String: [FinishedSegment]] = [:]
            for r in try Row.fetchAll(db, sql: """
                SELECT t.job_id, t.position, t.key, t.chunk, t.audio FROM tasks t JOIN jobs j ON j.id = t.job_id
                WHERE j.state IN ('queued', 'running') AND t.kind = 'segment' AND t.state = 'done'
                  AND t.chunk IS NOT NULL AND t.audio IS NOT NULL
                ORDER BY t.job_id, t.position
                """) {
                out[r[0], default: []].append(FinishedSegment(position: r[1], key: r[2], chunk: r[3], audio: r[4]))
            }
            return out
        }
    }

    /// Keeps a finished task from being reused (its result came from an engine other than the one its key names).
    public func forgetReuseKey(_ task: TaskKey) throws {
        try write { db in
            try db.execute(sql: "UPDATE tasks SET reuse_key = NULL WHERE job_id = ? AND key = ?", arguments: [task.job, task.key])
        }
    }

    /// The jobs of a film (its first job and its revisions), oldest first.
    public func revisions(film: String) throws -> [JobRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM jobs WHERE id = ? OR lineage = ? ORDER BY revision, created_at",
                             arguments: [film, film]).map(Self.job)
        }
    }

    /// Where each reused task of a job came from (`job:key`), by task key.
    public func reusedFrom(job: String) throws -> [String: String] {
        try read { db in
            var out: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT key, reused_from FROM tasks WHERE job_id = ? AND reused_from IS NOT NULL",
                                      arguments: [job]) {
                out[r["key"]] = r["reused_from"]
            }
            return out
        }
    }

    /// Records the identity a worker's engine declared, so that jobs submitted before any worker says hello after a
    /// restart still make the same reuse keys.
    public func declareVersion(engine: String, version: String, worker: String, now: Double) throws {
        try declare(in: .versions, engine: engine, value: version, worker: worker, now: now)
    }

    /// Every declared engine identity: engine → version.
    public func declaredVersions() throws -> [String: String] { try declarations(in: .versions) }

    /// What workers declare about an engine, one table each: the latest declaration wins.
    enum Declaration {
        case geometries, versions
        var table: String { self == .geometries ? "engine_geometries" : "engine_versions" }
        var column: String { self == .geometries ? "geometry" : "version" }
    }

    func declare(in kind: Declaration, engine: String, value: String, worker: String, now: Double) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO \(kind.table) (engine, \(kind.column), worker, declared_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(engine) DO UPDATE SET \(kind.column) = excluded.\(kind.column), worker = excluded.worker,
                    declared_at = excluded.declared_at
                """, arguments: [engine, value, worker, now])
        }
    }

    func declarations(in kind: Declaration) throws -> [String: String] {
        try read { db in
            var out: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT engine, \(kind.column) FROM \(kind.table)") { out[r[0]] = r[1] }
            return out
        }
    }
}
