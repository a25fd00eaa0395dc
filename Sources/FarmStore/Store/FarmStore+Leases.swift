import Foundation
import GRDB

extension FarmStore {
    /// After a coordinator restart: tasks that were running go back to the queue (their attempts close as
    /// `coordinator-restart`); finished work stays finished.
    public func recoverAfterRestart(now: Double) throws -> Int {
        noteEveryJobChanged()
        return try write { db in
            try db.execute(sql: """
                INSERT INTO attempts (job_id, key, number, worker, started_at, ended_at, outcome)
                SELECT job_id, key, attempts, worker, started_at, ?, 'coordinator-restart' FROM tasks WHERE state = 'running'
                """, arguments: [now])
            try db.execute(sql: "UPDATE tasks SET state = 'ready', worker = NULL, step = 0, ready_at = ? WHERE state = 'running'",
                           arguments: [now])
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

    /// Leases tasks to workers, all in one transaction; returns each lease's attempt number (0: the task was not
    /// ready any more, no lease). The lease is the task row itself: its attempt number, worker and start time.
    public func dispatch(_ batch: [(task: TaskKey, worker: String)], now: Double) throws -> [Int] {
        for (task, _) in batch { noteChanged(task.job) }
        guard !batch.isEmpty else { return [] }
        return try write { db in
            let lease = try hot(db)[.lease]
            var numbers: [Int] = []
            var jobs = Set<String>()
            for (task, worker) in batch {
                guard try lease.bind(.text(worker), .real(now), .text(task.job), .text(task.key)).step() else {
                    numbers.append(0)
                    continue
                }
                numbers.append(lease.int(0))
                try lease.run()
                jobs.insert(task.job)
            }
            for j in jobs { try db.execute(sql: "UPDATE jobs SET state = 'running' WHERE id = ? AND state = 'queued'", arguments: [j]) }
            return numbers
        }
    }

    /// The names a task's outputs go by; each is a column of its row.
    public static let outputNames: Set<String> = ["chunk", "audio", "tail", "anchors"]

    /// Records a finished task under its lease, its outputs (already in the artifact store), and readies the tasks
    /// that waited only for it. Checks the lease before it changes anything.
    /// - Throws: ``StaleLease`` when `attempt` is not the task's current running lease; nothing changes then.
    /// - Parameter dependents: the tasks that depend on this one, when the caller knows them from the plan the job
    ///   was stored from (saves a query); `nil` reads them from the store.
    public func complete(_ task: TaskKey, attempt: Int, outputs: [(name: String, hash: String, size: Int)],
                         priority: Int, dependents known: [String]? = nil, now: Double) throws -> [ReadyTask] {
        noteChanged(task.job)
        var columns: [String: String] = [:]
        for o in outputs {
            guard Self.outputNames.contains(o.name) else { throw StoreError("unknown output \(o.name) of \(task)") }
            columns[o.name] = o.hash
        }
        return try write { db in
            let hot = hot(db)
            let value = { (name: String) in columns[name].map(HotValue.text) ?? .null }
            let done = try hot[.complete].bind(value("chunk"), value("audio"), value("tail"), value("anchors"),
                                               .text(task.job), .text(task.key), .int(attempt))
            guard try done.step() else {
                let row = try Row.fetchOne(db, sql: "SELECT state, attempts FROM tasks WHERE job_id = ? AND key = ?",
                                           arguments: [task.job, task.key])
                throw StaleLease(task: task, attempt: attempt, current: row?[1] ?? 0, state: row?[0] ?? "unknown")
            }
            let worker = done.text(0), started = done.real(1)
            try done.run()
            try hot[.recordAttempt].bind(.text(task.job), .text(task.key), .int(attempt), .text(worker), .real(started), .real(now),
                                         .text("done"), .null).run()
            for o in outputs { try hot[.recordArtifact].bind(.text(o.hash), .int(o.size), .real(now)).run() }
            var keys: [String] = known ?? []
            if known == nil {
                let dependents = try hot[.dependents].bind(.text(task.job), .text(task.key))
                while try dependents.step() { keys.append(dependents.text(0)) }
            }
            var ready: [ReadyTask] = []
            let release = try hot[.releaseDependent]
            for key in keys {
                guard try release.bind(.real(now), .text(task.job), .text(key)).step() else { continue }
                if release.int(1) == 1 {
                    ready.append(ReadyTask(task: TaskKey(job: task.job, key: key), priority: priority, remaining: release.int(0), readyAt: now))
                }
                try release.run()
            }
            return ready
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
        noteChanged(task.job)
        return try write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT state, attempts, failures, remaining, worker, started_at FROM tasks WHERE job_id = ? AND key = ?
                """, arguments: [task.job, task.key]),
                  row["state"] == "running", row["attempts"] == attempt else { return .stale }
            let counts = outcome != "handed-back"
            let failures: Int = row["failures"] + (counts ? 1 : 0)
            try hot(db)[.recordAttempt].bind(.text(task.job), .text(task.key), .int(attempt), .text(row["worker"] ?? ""),
                                             .real(row["started_at"] ?? now), .real(now), .text(outcome), .text(reason)).run()
            if failures >= maxFailures {
                let message = "task \(task.key) failed \(failures) times; last: \(reason)"
                try db.execute(sql: "UPDATE tasks SET state = 'cancelled', failures = ?, error = ?, worker = NULL WHERE job_id = ? AND key = ?",
                               arguments: [failures, reason, task.job, task.key])
                return .jobFailed(reason: message)
            }
            try db.execute(sql: """
                UPDATE tasks SET state = 'ready', failures = ?, error = ?, worker = NULL, step = 0, ready_at = ?
                WHERE job_id = ? AND key = ?
                """, arguments: [failures, reason, now, task.job, task.key])
            let priority = try Int.fetchOne(db, sql: "SELECT priority FROM jobs WHERE id = ?", arguments: [task.job]) ?? 0
            return .requeued(ReadyTask(task: task, priority: priority, remaining: row["remaining"], readyAt: now))
        }
    }

    /// Stops a job: its unfinished tasks are cancelled; returns the leases that were running (to stop on workers).
    public func stopJob(_ id: String, state: JobState, reason: String?, now: Double) throws -> [(task: TaskKey, attempt: Int, worker: String)] {
        noteChanged(id)
        return try write { db in
            let running = try Row.fetchAll(db, sql: "SELECT key, attempts, worker FROM tasks WHERE job_id = ? AND state = 'running'",
                                           arguments: [id]).map { (TaskKey(job: id, key: $0["key"]), $0["attempts"] as Int, $0["worker"] as String? ?? "") }
            try db.execute(sql: """
                INSERT INTO attempts (job_id, key, number, worker, started_at, ended_at, outcome)
                SELECT job_id, key, attempts, worker, started_at, ?, 'cancelled' FROM tasks WHERE job_id = ? AND state = 'running'
                """, arguments: [now, id])
            try db.execute(sql: """
                UPDATE tasks SET state = 'cancelled', worker = NULL WHERE job_id = ? AND state IN ('waiting', 'ready', 'running')
                """, arguments: [id])
            try db.execute(sql: "UPDATE jobs SET state = ?, error = COALESCE(?, error), finished_at = ? WHERE id = ?",
                           arguments: [state.rawValue, reason, now, id])
            return running
        }
    }

    /// Puts a failed or cancelled job back to work: its unfinished tasks wait for their unfinished dependencies
    /// again (or are ready), failure counts and worker exclusions of the job are cleared, finished tasks stay.
    /// - Returns: the tasks ready at once, and how many tasks will run again (0: all were done; the job assembles).
    public func retryJob(_ id: String, now: Double) throws -> (ready: [ReadyTask], requeued: Int) {
        noteChanged(id)
        return try write { db in
            try db.execute(sql: """
                UPDATE tasks SET state = 'waiting', failures = 0, error = NULL, worker = NULL, step = 0
                WHERE job_id = ? AND state != 'done'
                """, arguments: [id])
            let requeued = db.changesCount
            try db.execute(sql: """
                UPDATE tasks SET deps_left = (
                    SELECT COUNT(*) FROM task_deps d JOIN tasks t ON t.job_id = d.job_id AND t.key = d.dep
                    WHERE d.job_id = tasks.job_id AND d.key = tasks.key AND t.state != 'done')
                WHERE job_id = ? AND state = 'waiting'
                """, arguments: [id])
            let priority = try Int.fetchOne(db, sql: "SELECT priority FROM jobs WHERE id = ?", arguments: [id]) ?? 0
            let ready = try Row.fetchAll(db, sql: """
                UPDATE tasks SET state = 'ready', ready_at = ? WHERE job_id = ? AND state = 'waiting' AND deps_left = 0
                RETURNING key, remaining
                """, arguments: [now, id]).map {
                ReadyTask(task: TaskKey(job: id, key: $0["key"]), priority: priority, remaining: $0["remaining"], readyAt: now)
            }
            try db.execute(sql: "DELETE FROM worker_job_failures WHERE job_id = ?", arguments: [id])
            try db.execute(sql: "UPDATE jobs SET state = ?, error = NULL, finished_at = NULL WHERE id = ?",
                           arguments: [requeued == 0 ? JobState.assembling.rawValue : JobState.queued.rawValue, id])
            return (ready, requeued)
        }
    }

    /// Runs finished tasks of an assembling job again because a stored output of theirs turned out damaged: each
    /// goes back to `ready` with its outputs cleared (its dependents, already done, are left alone) and the job back
    /// to `running`. A task that has already been run again once (two `done` attempts) is not: the damage keeps
    /// coming back, and the caller fails the job instead.
    /// - Returns: the tasks now ready; `nil` (and nothing changed) when any of `keys` could not be run again.
    /// - Parameter limited: `false` for a `retry` the user asked for, which runs damaged tasks again however often.
    public func rerunDamaged(job: String, keys: [String], now: Double, limited: Bool = true) throws -> [ReadyTask]? {
        noteChanged(job)
        return try write { db in
            // Checked for every task before any changes (inside the coordinator's transaction nothing rolls back).
            for key in keys {
                let row = try Row.fetchOne(db, sql: """
                    SELECT t.state, (SELECT COUNT(*) FROM attempts a WHERE a.job_id = t.job_id AND a.key = t.key
                                     AND a.outcome = 'done') AS done
                    FROM tasks t WHERE t.job_id = ? AND t.key = ?
                    """, arguments: [job, key])
                guard let row, row["state"] == "done", !limited || (row["done"] as Int) < 2 else { return nil }
            }
            let priority = try Int.fetchOne(db, sql: "SELECT priority FROM jobs WHERE id = ?", arguments: [job]) ?? 0
            var ready: [ReadyTask] = []
            for key in keys {
                let remaining = try Int.fetchOne(db, sql: """
                    UPDATE tasks SET state = 'ready', chunk = NULL, audio = NULL, tail = NULL, anchors = NULL,
                        worker = NULL, step = 0, failures = 0, error = NULL, ready_at = ?, reused_from = NULL
                    WHERE job_id = ? AND key = ? RETURNING remaining
                    """, arguments: [now, job, key]) ?? 0
                ready.append(ReadyTask(task: TaskKey(job: job, key: key), priority: priority, remaining: remaining,
                                       readyAt: now))
            }
            try db.execute(sql: "UPDATE jobs SET state = ?, error = NULL, finished_at = NULL WHERE id = ?",
                           arguments: [JobState.running.rawValue, job])
            return ready
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
