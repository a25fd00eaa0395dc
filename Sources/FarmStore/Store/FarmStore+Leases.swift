import Foundation
import GRDB

extension FarmStore {
    /// After a coordinator restart: tasks that were running go back to the queue (their open attempts close as
    /// `coordinator-restart`); finished work stays finished.
    public func recoverAfterRestart(now: Double) throws -> Int {
        try write { db in
            try db.execute(sql: """
                UPDATE attempts SET outcome = 'coordinator-restart', ended_at = ?
                WHERE id IN (SELECT lease_id FROM tasks WHERE state = 'running')
                """, arguments: [now])
            try db.execute(sql: """
                UPDATE tasks SET state = 'ready', worker = NULL, step = 0, ready_at = ?, lease_id = NULL WHERE state = 'running'
                """, arguments: [now])
            let requeued = db.changesCount
            try db.execute(sql: "UPDATE workers SET state = 'gone' WHERE state != 'gone'")
            return requeued
        }
    }

    /// Every ready task of unfinished jobs, for the in-memory queue.
    public func readyTasks() throws -> [ReadyTask] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.job_id, t.key, t.remaining, t.ready_at, j.priority FROM tasks t JOIN jobs j ON j.id = t.job_id
                WHERE t.state = 'ready' AND j.state IN ('queued', 'running')
                """).map {
                ReadyTask(task: TaskKey(job: $0["job_id"], key: $0["key"]), priority: $0["priority"],
                          remaining: $0["remaining"], readyAt: $0["ready_at"] ?? 0)
            }
        }
    }

    /// Leases tasks to workers, all in one transaction; returns each lease's attempt number.
    public func dispatch(_ batch: [(task: TaskKey, worker: String)], now: Double) throws -> [Int] {
        guard !batch.isEmpty else { return [] }
        return try write { db in
            var numbers: [Int] = []
            // The attempt row first (appended: consecutive leases share pages), only if the task is still ready.
            let insert = try db.cachedStatement(sql: """
                INSERT INTO attempts (job_id, key, number, worker, started_at)
                SELECT job_id, key, attempts + 1, ?, ? FROM tasks WHERE job_id = ? AND key = ? AND state = 'ready'
                RETURNING id, number
                """)
            let update = try db.cachedStatement(sql: """
                UPDATE tasks SET state = 'running', attempts = ?, worker = ?, step = 0, lease_id = ? WHERE job_id = ? AND key = ?
                """)
            var jobs = Set<String>()
            for (task, worker) in batch {
                guard let row = try Row.fetchOne(insert, arguments: [worker, now, task.job, task.key]) else {
                    numbers.append(0)  // not ready any more (cancelled): no lease
                    continue
                }
                let id: Int64 = row[0], n: Int = row[1]
                try update.execute(arguments: [n, worker, id, task.job, task.key])
                numbers.append(n)
                jobs.insert(task.job)
            }
            for j in jobs { try db.execute(sql: "UPDATE jobs SET state = 'running' WHERE id = ? AND state = 'queued'", arguments: [j]) }
            return numbers
        }
    }

    /// Records a finished task under its lease, its outputs (already in the artifact store), and readies the tasks
    /// that waited only for it.
    /// - Throws: ``StaleLease`` when `attempt` is not the task's current running lease; nothing changes then.
    public func complete(_ task: TaskKey, attempt: Int, outputs: [(name: String, hash: String, size: Int)],
                         priority: Int, now: Double) throws -> [ReadyTask] {
        try write { db in
            // The lease check and the state change are one statement; worker and lease_id stay as who did it.
            guard let lease = try Int64.fetchOne(db.cachedStatement(sql: """
                UPDATE tasks SET state = 'done'
                WHERE job_id = ? AND key = ? AND state = 'running' AND attempts = ? RETURNING lease_id
                """), arguments: [task.job, task.key, attempt]) else {
                let row = try Row.fetchOne(db, sql: "SELECT state, attempts FROM tasks WHERE job_id = ? AND key = ?",
                                           arguments: [task.job, task.key])
                throw StaleLease(task: task, attempt: attempt, current: row?[1] ?? 0, state: row?[0] ?? "unknown")
            }
            for o in outputs {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO artifacts (hash, size, created_at) VALUES (?, ?, ?)")
                    .execute(arguments: [o.hash, o.size, now])
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO outputs (job_id, key, name, hash) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [task.job, task.key, o.name, o.hash])
            }
            try db.cachedStatement(sql: "UPDATE attempts SET outcome = 'done', ended_at = ? WHERE id = ?")
                .execute(arguments: [now, lease])
            // Dependents whose last dependency this was become ready.
            let ready = try Row.fetchAll(db.cachedStatement(sql: """
                UPDATE tasks SET deps_left = deps_left - 1,
                    state = CASE WHEN deps_left = 1 THEN 'ready' ELSE state END,
                    ready_at = CASE WHEN deps_left = 1 THEN ? ELSE ready_at END
                WHERE job_id = ? AND key IN (SELECT key FROM task_deps WHERE job_id = ? AND dep = ?)
                RETURNING key, remaining, state
                """), arguments: [now, task.job, task.job, task.key])
            return ready.filter { $0[2] == "ready" }.map {
                ReadyTask(task: TaskKey(job: task.job, key: $0[0]), priority: priority, remaining: $0[1], readyAt: now)
            }
        }
    }

    /// What happened to a task whose lease ended without a result.
    public enum Requeue: Sendable, Equatable {
        case requeued(ReadyTask)
        case jobFailed(reason: String)
        case stale
    }

    /// Ends a lease without a result (`failed`, `lost`, `handed-back`); the task is retried unless it has failed
    /// `maxFailures` times, in which case its job fails with the reason. A hand-back does not count as a failure.
    public func endLease(_ task: TaskKey, attempt: Int, outcome: String, reason: String, maxFailures: Int,
                         now: Double) throws -> Requeue {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT state, attempts, failures, remaining, lease_id FROM tasks WHERE job_id = ? AND key = ?
                """, arguments: [task.job, task.key]),
                  row["state"] == "running", row["attempts"] == attempt else { return .stale }
            let counts = outcome != "handed-back"
            let failures: Int = row["failures"] + (counts ? 1 : 0)
            try db.execute(sql: "UPDATE attempts SET outcome = ?, error = ?, ended_at = ? WHERE id = ?",
                           arguments: [outcome, reason, now, row["lease_id"] as Int64?])
            if failures >= maxFailures {
                let message = "task \(task.key) failed \(failures) times; last: \(reason)"
                try db.execute(sql: """
                    UPDATE tasks SET state = 'cancelled', failures = ?, error = ?, worker = NULL, lease_id = NULL
                    WHERE job_id = ? AND key = ?
                    """, arguments: [failures, reason, task.job, task.key])
                return .jobFailed(reason: message)
            }
            try db.execute(sql: """
                UPDATE tasks SET state = 'ready', failures = ?, error = ?, worker = NULL, step = 0, ready_at = ?, lease_id = NULL
                WHERE job_id = ? AND key = ?
                """, arguments: [failures, reason, now, task.job, task.key])
            let priority = try Int.fetchOne(db, sql: "SELECT priority FROM jobs WHERE id = ?", arguments: [task.job]) ?? 0
            return .requeued(ReadyTask(task: task, priority: priority, remaining: row["remaining"], readyAt: now))
        }
    }

    /// Stops a job: its unfinished tasks are cancelled; returns the leases that were running (to stop on workers).
    public func stopJob(_ id: String, state: JobState, reason: String?, now: Double) throws -> [(task: TaskKey, attempt: Int, worker: String)] {
        try write { db in
            let running = try Row.fetchAll(db, sql: "SELECT key, attempts, worker FROM tasks WHERE job_id = ? AND state = 'running'",
                                           arguments: [id]).map { (TaskKey(job: id, key: $0["key"]), $0["attempts"] as Int, $0["worker"] as String? ?? "") }
            try db.execute(sql: """
                UPDATE attempts SET outcome = 'cancelled', ended_at = ?
                WHERE id IN (SELECT lease_id FROM tasks WHERE job_id = ? AND state = 'running')
                """, arguments: [now, id])
            try db.execute(sql: """
                UPDATE tasks SET state = 'cancelled', worker = NULL, lease_id = NULL
                WHERE job_id = ? AND state IN ('waiting', 'ready', 'running')
                """, arguments: [id])
            try db.execute(sql: "UPDATE jobs SET state = ?, error = COALESCE(?, error), finished_at = ? WHERE id = ?",
                           arguments: [state.rawValue, reason, now, id])
            return running
        }
    }

    /// Denoising progress of a running lease (not worth a transaction each: callers batch them).
    public func progress(_ updates: [(task: TaskKey, attempt: Int, step: Int, steps: Int)]) throws {
        guard !updates.isEmpty else { return }
        try write { db in
            let s = try db.makeStatement(sql: "UPDATE tasks SET step = ?, steps = ? WHERE job_id = ? AND key = ? AND attempts = ? AND state = 'running'")
            for u in updates { try s.execute(arguments: [u.step, u.steps, u.task.job, u.task.key, u.attempt]) }
        }
    }

    /// How many of the job's tasks are not done.
    public func unfinishedTasks(job: String) throws -> Int {
        try read { db in
            try Int.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*) FROM tasks WHERE job_id = ? AND state IN ('waiting', 'ready', 'running', 'cancelled')
                """), arguments: [job]) ?? 0
        }
    }
}
