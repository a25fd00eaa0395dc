import Foundation
import GRDB

/// reelfarm's durable state: one SQLite file (WAL) under the data directory, plus content-addressed artifacts.
///
/// Used from the coordinator's own thread only; every change that must survive a crash is one transaction.
public final class FarmStore: @unchecked Sendable {
    let db: DatabasePool
    /// The open transaction while inside ``batch(_:)``; store methods then run in it instead of their own.
    private var current: Database?
    public let artifacts: ArtifactStore
    public let directory: URL
    /// Copies the log back into the database file off the writer's thread (its commits never checkpoint).
    let checkpointer: WALCheckpointer

    /// Opens (creating and migrating) the store in `directory`.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.execute(sql: "PRAGMA cache_size = -65536")  // 64 MiB: the hot tables stay in memory
            // The writer's commits never checkpoint (``WALCheckpointer`` replaces its automatic checkpoint); after a
            // checkpoint lets the log start over, its file is cut back to 64 MiB.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let path = directory.appendingPathComponent("reelfarm.sqlite").path
        db = try DatabasePool(path: path, configuration: config)
        try Migrations.migrator.migrate(db)
        artifacts = try ArtifactStore(root: directory.appendingPathComponent("artifacts"))
        checkpointer = try WALCheckpointer(path: path)
        try db.writeWithoutTransaction { checkpointer.install(on: $0) }
        checkpointer.start()
    }

    deinit { checkpointer.stop() }

    /// What the background checkpoints did (see ``WALCheckpointer``).
    public var checkpoints: CheckpointStatistics { checkpointer.statistics }

    /// Runs `body` in one write transaction: every store call inside it joins that transaction, so a loop
    /// iteration's leases, results and readiness changes commit together (one commit, not one per message).
    public func batch<T>(_ body: () throws -> T) throws -> T {
        precondition(current == nil, "FarmStore.batch does not nest")
        return try db.write { db in
            current = db
            defer { current = nil }
            return try body()
        }
    }

    /// Runs `body` so that it changes the store all or nothing: a savepoint inside a batch, a transaction otherwise.
    public func atomically<T>(_ body: () throws -> T) throws -> T {
        guard let c = current else { return try batch(body) }
        var result: T?
        try c.inSavepoint {
            result = try body()
            return .commit
        }
        return result!
    }

    /// Jobs whose task rows changed since ``takeChangedJobs()`` last ran, so that listings read only those again;
    /// `nil`: any job may have (at start, after a restart's recovery, or once the set grew past its bound). A
    /// rolled-back change leaves its job here, which costs one read more and nothing else.
    private var changedJobs: Set<String>? = nil

    /// Notes that `job`'s tasks changed (every method that writes task rows calls it).
    func noteChanged(_ job: String) {
        if (changedJobs?.count ?? 0) >= 4_096 { changedJobs = nil } else { changedJobs?.insert(job) }
    }

    /// Notes that any job's tasks may have changed.
    func noteEveryJobChanged() { changedJobs = nil }

    /// The jobs whose tasks changed since the last call (`nil`: any may have), and starts over.
    public func takeChangedJobs() -> Set<String>? {
        defer { changedJobs = [] }
        return changedJobs
    }

    private var hotStatements: HotStatements?

    /// The hot-path statements of the writer connection `db`.
    func hot(_ db: Database) -> HotStatements {
        if let h = hotStatements, h.connection == ObjectIdentifier(db) { return h }
        let h = HotStatements(db)
        hotStatements = h
        return h
    }

    func write<T>(_ f: (Database) throws -> T) throws -> T {
        if let c = current { return try f(c) }
        return try db.write(f)
    }

    func read<T>(_ f: (Database) throws -> T) throws -> T {
        if let c = current { return try f(c) }
        return try db.read(f)
    }

    /// Migrations applied, by name (for `status` and tests).
    public func appliedMigrations() throws -> [String] {
        try db.read { try Migrations.migrator.appliedMigrations($0) }
    }

    // MARK: Jobs

    /// Stores a job with its whole task graph; tasks without dependencies start ready. A task with a ``NewTask/reuse``
    /// is stored done with the outputs of the task it reuses; it must depend only on reused tasks (the caller keeps
    /// the reused set closed under dependencies), and it counts for nobody's `deps_left`.
    public func insert(_ job: NewJob, now: Double) throws -> [ReadyTask] {
        noteChanged(job.id)
        let reused = Set(job.tasks.filter { $0.reuse != nil }.map(\.key))
        for t in job.tasks where t.reuse != nil {
            if let d = t.dependsOn.first(where: { !reused.contains($0) }) {
                throw StoreError("task \(t.key) is reused but its dependency \(d) is not")
            }
            if let name = t.reuse?.outputs.keys.first(where: { !Self.outputNames.contains($0) }) {
                throw StoreError("reused task \(t.key) names an unknown output \(name)")
            }
        }
        try write { db in
            try db.execute(sql: """
                INSERT INTO jobs (id, title, source, storyboard, priority, state, created_at, base_directory, lineage, revision,
                                  engine_version, draft)
                VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)
                """, arguments: [job.id, job.title, job.source, job.storyboard, job.priority, now, job.baseDirectory,
                                 job.lineage, job.revision, job.engineVersion, job.draft])
            for t in job.tasks {
                let left = t.dependsOn.filter { !reused.contains($0) }.count
                if let r = t.reuse {
                    try db.execute(sql: """
                        INSERT INTO tasks (job_id, key, kind, shot, position, frames, state, deps_left, remaining, ready_at,
                                           reuse_key, reused_from, chunk, audio, tail, anchors)
                        VALUES (?, ?, ?, ?, ?, ?, 'done', 0, ?, NULL, ?, ?, ?, ?, ?, ?)
                        """, arguments: [job.id, t.key, t.kind, t.shot, t.position, t.frames, t.remaining, t.reuseKey,
                                         r.from.id, r.outputs["chunk"], r.outputs["audio"], r.outputs["tail"], r.outputs["anchors"]])
                } else {
                    let ready = left == 0
                    try db.execute(sql: """
                        INSERT INTO tasks (job_id, key, kind, shot, position, frames, state, deps_left, remaining, ready_at,
                                           reuse_key)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [job.id, t.key, t.kind, t.shot, t.position, t.frames, ready ? "ready" : "waiting",
                                         left, t.remaining, ready ? now : nil, t.reuseKey])
                }
                for d in t.dependsOn {
                    try db.execute(sql: "INSERT INTO task_deps (job_id, key, dep) VALUES (?, ?, ?)", arguments: [job.id, t.key, d])
                }
            }
        }
        return job.tasks.filter { t in t.reuse == nil && t.dependsOn.allSatisfy { reused.contains($0) } }.map {
            ReadyTask(task: TaskKey(job: job.id, key: $0.key), priority: job.priority, remaining: $0.remaining, readyAt: now)
        }
    }

    public func jobs() throws -> [JobRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM jobs ORDER BY created_at, id").map(Self.job) }
    }

    public func job(_ id: String) throws -> JobRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT \(Self.jobColumns) FROM jobs WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    public func setJob(_ id: String, state: JobState, error: String? = nil, film: String? = nil, filmSize: Int? = nil,
                       now: Double) throws {
        noteChanged(id)
        try write { db in
            try db.execute(sql: """
                UPDATE jobs SET state = ?, error = COALESCE(?, error), film = COALESCE(?, film),
                    film_size = COALESCE(?, film_size), finished_at = CASE WHEN ? THEN ? ELSE finished_at END
                WHERE id = ?
                """, arguments: [state.rawValue, error, film, filmSize, state.isFinished, now, id])
        }
    }

    public func tasks(job: String) throws -> [TaskRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE job_id = ? ORDER BY position", arguments: [job]).map {
                TaskRecord(key: $0["key"], kind: $0["kind"], shot: $0["shot"], position: $0["position"], frames: $0["frames"],
                           state: $0["state"], attempts: $0["attempts"], failures: $0["failures"], worker: $0["worker"],
                           step: $0["step"], steps: $0["steps"], error: $0["error"])
            }
        }
    }

    /// How many jobs are in each state (states with none are left out).
    public func jobCounts() throws -> [(state: String, count: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM jobs GROUP BY state").map { ($0[0], $0[1]) }
        }
    }

    public func attempts(job: String) throws -> [AttemptRecord] {
        try read { db in
            // Ended attempts, and the open one of each running task (its lease, kept in the task's row).
            try Row.fetchAll(db, sql: """
                SELECT key, number, worker, outcome, error FROM attempts WHERE job_id = ?
                UNION ALL SELECT key, attempts, worker, NULL, NULL FROM tasks WHERE job_id = ? AND state = 'running'
                ORDER BY key, number
                """, arguments: [job, job]).map {
                AttemptRecord(key: $0["key"], number: $0["number"], worker: $0["worker"], outcome: $0["outcome"], error: $0["error"])
            }
        }
    }

    /// Every output of a job's tasks: `key → name → artifact hash`.
    public func outputs(job: String) throws -> [String: [String: String]] {
        try read { db in
            var out: [String: [String: String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, chunk, audio, tail, anchors FROM tasks WHERE job_id = ?", arguments: [job]) {
                for name in ["chunk", "audio", "tail", "anchors"] {
                    if let hash: String = row[name] { out[row["key"], default: [:]][name] = hash }
                }
            }
            return out
        }
    }

    /// Forgets the intermediate outputs (chunks, PCM, tails, anchors) of a finished job's tasks, and returns the
    /// artifacts nothing refers to any more: not the film of any job, nor an output of a task of a job that may
    /// still need it (any job not done: running, assembling, or failed/cancelled and so retryable). The caller
    /// deletes their files once this has committed.
    public func releaseIntermediates(job: String) throws -> [String] {
        try write { db in
            var candidates = Set<String>()
            for row in try Row.fetchAll(db, sql: "SELECT chunk, audio, tail, anchors FROM tasks WHERE job_id = ?", arguments: [job]) {
                for i in 0..<4 { if let h: String = row[i] { candidates.insert(h) } }
            }
            try db.execute(sql: "UPDATE tasks SET chunk = NULL, audio = NULL, tail = NULL, anchors = NULL WHERE job_id = ?",
                           arguments: [job])
            guard !candidates.isEmpty else { return [] }
            var referenced = Set(try String.fetchAll(db, sql: "SELECT film FROM jobs WHERE film IS NOT NULL"))
            referenced.formUnion(try String.fetchAll(db, sql: "SELECT hash FROM job_assets"))
            // Any other job's outputs count, done ones too: a job finished with `--keep-intermediates` keeps its own.
            for row in try Row.fetchAll(db, sql: "SELECT chunk, audio, tail, anchors FROM tasks WHERE job_id != ?",
                                        arguments: [job]) {
                for i in 0..<4 { if let h: String = row[i] { referenced.insert(h) } }
            }
            let freed = candidates.subtracting(referenced).sorted()
            for h in freed { try db.execute(sql: "DELETE FROM artifacts WHERE hash = ?", arguments: [h]) }
            return freed
        }
    }

    /// Deletes a job's rows (tasks, dependencies, attempts, worker exclusions, the job) and returns the artifacts
    /// only it referred to — its film and its tasks' outputs that no other job's task or film shares — for the
    /// caller to delete once this commits.
    public func deleteJob(_ id: String) throws -> [String] {
        noteChanged(id)
        return try write { db in
            var candidates = Set(try String.fetchAll(db, sql: "SELECT film FROM jobs WHERE id = ? AND film IS NOT NULL",
                                                     arguments: [id]))
            for row in try Row.fetchAll(db, sql: "SELECT chunk, audio, tail, anchors FROM tasks WHERE job_id = ?",
                                        arguments: [id]) {
                for i in 0..<4 { if let h: String = row[i] { candidates.insert(h) } }
            }
            candidates.formUnion(try String.fetchAll(db, sql: "SELECT hash FROM job_assets WHERE job_id = ?", arguments: [id]))
            for table in ["attempts", "task_deps", "worker_job_failures", "tasks", "job_assets"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE job_id = ?", arguments: [id])
            }
            try db.execute(sql: "DELETE FROM jobs WHERE id = ?", arguments: [id])
            guard !candidates.isEmpty else { return [] }
            var referenced = Set(try String.fetchAll(db, sql: "SELECT film FROM jobs WHERE film IS NOT NULL"))
            referenced.formUnion(try String.fetchAll(db, sql: "SELECT hash FROM job_assets"))
            for row in try Row.fetchAll(db, sql: "SELECT chunk, audio, tail, anchors FROM tasks") {
                for i in 0..<4 { if let h: String = row[i] { referenced.insert(h) } }
            }
            let freed = candidates.subtracting(referenced).sorted()
            for h in freed { try db.execute(sql: "DELETE FROM artifacts WHERE hash = ?", arguments: [h]) }
            return freed
        }
    }

    /// Deletes artifact files the store does not refer to: outputs of results that never committed, artifacts
    /// released just before a crash, half-written temporary files. For start-up, before anything writes artifacts.
    /// - Returns: how many files were deleted.
    public func sweepArtifacts() throws -> Int {
        let keep = try read { db in
            Set(try String.fetchAll(db, sql: "SELECT hash FROM artifacts UNION SELECT film FROM jobs WHERE film IS NOT NULL"))
        }
        let fm = FileManager.default
        var removed = 0
        for folder in (try? fm.contentsOfDirectory(atPath: artifacts.root.path)) ?? [] {
            let dir = artifacts.root.appendingPathComponent(folder)
            for file in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where !keep.contains(file) {
                if file.contains(".") {
                    try? fm.removeItem(at: dir.appendingPathComponent(file))  // a temporary file of an interrupted write
                } else {
                    artifacts.remove(file)
                }
                removed += 1
            }
        }
        return removed
    }

    /// The artifact hash of one output of one task, if it has been stored.
    /// Records the images a job's storyboard names (their files are already in the artifact store).
    public func addAssets(job: String, _ assets: [(path: String, hash: String, size: Int)], now: Double) throws {
        try write { db in
            for a in assets {
                try db.execute(sql: "INSERT OR IGNORE INTO artifacts (hash, size, created_at) VALUES (?, ?, ?)",
                               arguments: [a.hash, a.size, now])
                try db.execute(sql: "INSERT OR REPLACE INTO job_assets (job_id, path, hash) VALUES (?, ?, ?)",
                               arguments: [job, a.path, a.hash])
            }
        }
    }

    /// Records the latent grid (JSON) that a worker running `engine` declared.
    public func declareGeometry(engine: String, json: String, worker: String, now: Double) throws {
        try declare(in: .geometries, engine: engine, value: json, worker: worker, now: now)
    }

    /// Every declared latent grid: engine → JSON.
    public func declaredGeometries() throws -> [String: String] { try declarations(in: .geometries) }

    public func setGeometry(job: String, json: String) throws {
        try write { db in try db.execute(sql: "UPDATE jobs SET geometry = ? WHERE id = ?", arguments: [json, job]) }
    }

    /// The latent grid (JSON) a job was planned with; nil for jobs planned before it was kept.
    public func geometry(job: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT geometry FROM jobs WHERE id = ?", arguments: [job]) }
    }

    /// A job's images: path as its storyboard resolves it → artifact hash.
    public func assets(job: String) throws -> [String: String] {
        try read { db in
            var out: [String: String] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT path, hash FROM job_assets WHERE job_id = ?", arguments: [job]) {
                out[r["path"]] = r["hash"]
            }
            return out
        }
    }

    /// The hash of output `name` of any finished task of `job`, or nil when none has it.
    public func anyOutput(job: String, name: String) throws -> String? {
        guard ["chunk", "audio", "tail", "anchors"].contains(name) else { return nil }
        return try read { db in
            try String.fetchOne(db, sql: "SELECT \(name) FROM tasks WHERE job_id = ? AND \(name) IS NOT NULL LIMIT 1",
                                arguments: [job])
        }
    }

    public func output(job: String, key: String, name: String) throws -> String? {
        guard let column = ["chunk", "audio", "tail", "anchors"].firstIndex(of: name) else { return nil }
        guard let db = current else { return try outputs(job: job)[key]?[name] }
        let s = try hot(db)[.outputs].bind(.text(job), .text(key))
        guard try s.step(), !s.isNull(Int32(column)) else { return nil }
        return s.text(Int32(column))
    }

    /// The columns ``job(_:)`` reads, in its order (by position: a listing of a thousand jobs must not look each
    /// column up by name, case-insensitively, in every row).
    static let jobColumns = """
        id, title, source, storyboard, priority, state, error, film, film_size, created_at, finished_at, base_directory,
        lineage, revision, engine_version, draft
        """

    static func job(_ r: Row) -> JobRecord {
        JobRecord(id: r[0], title: r[1], source: r[2], storyboard: r[3], priority: r[4],
                  state: JobState(rawValue: r[5]) ?? .failed, error: r[6], film: r[7], filmSize: r[8],
                  createdAt: r[9], finishedAt: r[10], baseDirectory: r[11],
                  lineage: r[12], revision: r[13] ?? 1, engineVersion: r[14], draft: r[15])
    }
}

extension FarmStore {
    /// When each task of a job last became ready (wall-clock seconds), for latency measurements.
    public func readyTimes(job: String) throws -> [String: Double] {
        try read { db in
            var out: [String: Double] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT key, ready_at FROM tasks WHERE job_id = ?", arguments: [job]) {
                if let t: Double = r["ready_at"] { out[r["key"]] = t }
            }
            return out
        }
    }
}
