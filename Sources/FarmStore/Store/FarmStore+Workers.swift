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
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers ORDER BY registered_at").map {
                WorkerRecord(id: $0["id"], name: $0["name"], engines: ($0["engines"] as String).split(separator: ",").map(String.init),
                             device: $0["device"], slots: $0["slots"], memory: $0["memory"], maxPixels: $0["max_pixels"],
                             tags: ($0["tags"] as String).split(separator: ",").map(String.init), state: $0["state"],
                             lastSeen: $0["last_seen"])
            }
        }
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
}
