import Foundation
import GRDB

extension FarmStore {
    public func upsertWorker(_ w: WorkerRecord, now: Double) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO workers (id, name, engines, device, slots, memory, max_pixels, tags, state, registered_at, last_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, engines = excluded.engines, device = excluded.device,
                    slots = excluded.slots, memory = excluded.memory, max_pixels = excluded.max_pixels, tags = excluded.tags,
                    state = excluded.state, last_seen = excluded.last_seen
                """, arguments: [w.id, w.name, w.engines.joined(separator: ","), w.device, w.slots, w.memory, w.maxPixels,
                                 w.tags.joined(separator: ","), w.state, now, now])
        }
    }

    public func setWorker(_ id: String, state: String, lastSeen: Double) throws {
        try write { db in
            try db.execute(sql: "UPDATE workers SET state = ?, last_seen = ? WHERE id = ?", arguments: [state, lastSeen, id])
        }
    }

    public func workers() throws -> [WorkerRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY registered_at").map(Self.worker) }
    }

    /// One page of the workers that have not left (connected ones first, then by registration), and how many there
    /// are: a `workers` reply stays bounded however many workers a farm has seen.
    public func workers(offset: Int, limit: Int) throws -> (page: [WorkerRecord], total: Int) {
        try read { db in
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM workers WHERE state != 'gone'") ?? 0
            let page = try Row.fetchAll(db, sql: """
                SELECT * FROM workers WHERE state != 'gone'
                ORDER BY state IN ('alive', 'draining') DESC, registered_at, id LIMIT ? OFFSET ?
                """, arguments: [limit, offset]).map(Self.worker)
            return (page, total)
        }
    }

    /// Workers by stored state, every row counted.
    public func workerStates() throws -> [String: Int] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM workers GROUP BY state").map {
                ($0["state"] as String, $0["n"] as Int)
            })
        }
    }

    private static func worker(_ row: Row) -> WorkerRecord {
        WorkerRecord(id: row["id"], name: row["name"], engines: (row["engines"] as String).split(separator: ",").map(String.init),
                     device: row["device"], slots: row["slots"], memory: row["memory"], maxPixels: row["max_pixels"],
                     tags: (row["tags"] as String).split(separator: ",").map(String.init), state: row["state"],
                     lastSeen: row["last_seen"])
    }

    /// Counts a failed task of `job` against `worker`; returns the new count.
    public func recordFailure(worker: String, job: String) throws -> Int {
        try write { db in
            try db.execute(sql: """
                INSERT INTO worker_job_failures (worker, job_id, count) VALUES (?, ?, 1)
                ON CONFLICT(worker, job_id) DO UPDATE SET count = count + 1
                """, arguments: [worker, job])
            return try Int.fetchOne(db, sql: "SELECT count FROM worker_job_failures WHERE worker = ? AND job_id = ?",
                                    arguments: [worker, job]) ?? 0
        }
    }

    /// Workers that have failed `threshold` or more tasks of `job`.
    public func excludedWorkers(job: String, threshold: Int) throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT worker FROM worker_job_failures WHERE job_id = ? AND count >= ?",
                                    arguments: [job, threshold]))
        }
    }

    /// Workers disabled from the dashboard (by worker id), kept across restarts.
    public func disabledWorkers() throws -> Set<String> {
        try read { Set(try String.fetchAll($0, sql: "SELECT id FROM disabled_workers")) }
    }

    /// Disables or enables a worker for good (until enabled).
    public func setDisabled(worker id: String, _ disabled: Bool, now: Double) throws {
        try write { db in
            if disabled {
                try db.execute(sql: "INSERT OR IGNORE INTO disabled_workers (id, since) VALUES (?, ?)", arguments: [id, now])
            } else {
                try db.execute(sql: "DELETE FROM disabled_workers WHERE id = ?", arguments: [id])
            }
        }
    }
}
