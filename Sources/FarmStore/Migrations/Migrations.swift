import GRDB

/// The store's schema, as numbered migrations. Never edit a migration that has shipped: add the next number.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("0001_initial") { db in try db.execute(sql: initial) }
        m.registerMigration("0002_task_state_index") { db in try db.execute(sql: taskStateIndex) }
        m.registerMigration("0003_job_base_directory") { db in try db.execute(sql: jobBaseDirectory) }
        m.registerMigration("0004_hot_path_layout") { db in try db.execute(sql: hotPathLayout) }
        m.registerMigration("0005_job_assets") { db in try db.execute(sql: jobAssets) }
        m.registerMigration("0006_engine_geometries") { db in try db.execute(sql: engineGeometries) }
        m.registerMigration("0007_reuse_and_revisions") { db in try db.execute(sql: reuseAndRevisions) }
        m.registerMigration("0008_dashboard") { db in try db.execute(sql: dashboard) }
        return m
    }

    /// 0004: the layout the dispatch path wants. SQLite writes every page a commit touches to the WAL and every
    /// statement costs a few microseconds, so a task's life should touch few b-tree pages in few statements:
    /// - `tasks` and `task_deps` become `WITHOUT ROWID` tables (one b-tree each, keyed by their primary key, instead
    ///   of a rowid table plus an index), and `tasks` loses its two state indexes (a state change rewrote entries in
    ///   both; the queries that used them read one job's tasks by primary-key prefix instead);
    /// - the open attempt (the lease) lives in its task's row (`attempts` = its number, `worker`, `started_at`);
    ///   `attempts` keeps the ended ones, appended by rowid (one iteration's rows share pages) with an index by job;
    /// - a task's outputs are columns of its row (`chunk`, `audio`, `tail`, `anchors`: artifact hashes), set by the
    ///   same statement that marks it done; the `outputs` table goes.
    /// 0008: for the dashboard. The farm's timeline reads the attempts that ended lately, newest first, without
    /// scanning the table (attempts end in time order, so each insert appends to the index's last page: one page
    /// more per commit); workers disabled from the dashboard stay disabled across a coordinator restart.
    static let dashboard = """
        CREATE INDEX attempts_ended ON attempts(ended_at);
        CREATE TABLE disabled_workers (
            id TEXT PRIMARY KEY,
            since REAL NOT NULL
        ) WITHOUT ROWID;
        """

    /// 0007: segment reuse across jobs and revisions of a film. A task keeps the digest of everything that decides
    /// its output (`reuse_key`, indexed where set: only inserts touch the index, never the state changes of the
    /// dispatch path) and, when it took a finished task's outputs instead of running, where they came from. A job
    /// names the film it revises (its first job's id) and its revision number, the engine identity its keys were
    /// made with, and for a draft its settings (JSON; the storyboard is planned drafted); workers' declared engine
    /// identities are kept across restarts.
    static let reuseAndRevisions = """
        ALTER TABLE tasks ADD COLUMN reuse_key TEXT;
        ALTER TABLE tasks ADD COLUMN reused_from TEXT;
        CREATE INDEX tasks_reuse ON tasks(reuse_key) WHERE reuse_key IS NOT NULL;
        ALTER TABLE jobs ADD COLUMN lineage TEXT;
        ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE jobs ADD COLUMN engine_version TEXT;
        ALTER TABLE jobs ADD COLUMN draft TEXT;
        CREATE INDEX jobs_lineage ON jobs(lineage) WHERE lineage IS NOT NULL;
        CREATE TABLE engine_versions (
            engine TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            worker TEXT NOT NULL,
            declared_at REAL NOT NULL
        );
        """

    /// 0006: engines that run in engine processes are open-ended; the latent grid that workers running one
    /// declared is kept, and each job keeps the grid it was planned with (so it plans the same after a restart).
    static let engineGeometries = """
        CREATE TABLE engine_geometries (
            engine TEXT PRIMARY KEY,
            geometry TEXT NOT NULL,
            worker TEXT NOT NULL,
            declared_at REAL NOT NULL
        );
        ALTER TABLE jobs ADD COLUMN geometry TEXT;
        """

    static let hotPathLayout = """
        CREATE TABLE tasks_0004 (
            job_id TEXT NOT NULL REFERENCES jobs(id),
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            shot INTEGER NOT NULL,
            position INTEGER NOT NULL,
            frames INTEGER NOT NULL,
            state TEXT NOT NULL,
            deps_left INTEGER NOT NULL,
            remaining INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            worker TEXT,                    -- who holds the lease (running) or did the task (done)
            started_at REAL,                -- when the current (or finishing) attempt started
            step INTEGER NOT NULL DEFAULT 0,
            steps INTEGER NOT NULL DEFAULT 0,
            ready_at REAL,
            error TEXT,
            chunk TEXT,   -- outputs: artifact hashes (rows of `artifacts`)
            audio TEXT,
            tail TEXT,
            anchors TEXT,
            PRIMARY KEY (job_id, key)
        ) WITHOUT ROWID;
        INSERT INTO tasks_0004 (job_id, key, kind, shot, position, frames, state, deps_left, remaining, attempts, failures,
                                worker, started_at, step, steps, ready_at, error, chunk, audio, tail, anchors)
            SELECT t.job_id, t.key, t.kind, t.shot, t.position, t.frames, t.state, t.deps_left, t.remaining, t.attempts,
                   t.failures, t.worker,
                   (SELECT a.started_at FROM attempts a WHERE a.job_id = t.job_id AND a.key = t.key AND a.number = t.attempts),
                   t.step, t.steps, t.ready_at, t.error,
                   (SELECT hash FROM outputs o WHERE o.job_id = t.job_id AND o.key = t.key AND o.name = 'chunk'),
                   (SELECT hash FROM outputs o WHERE o.job_id = t.job_id AND o.key = t.key AND o.name = 'audio'),
                   (SELECT hash FROM outputs o WHERE o.job_id = t.job_id AND o.key = t.key AND o.name = 'tail'),
                   (SELECT hash FROM outputs o WHERE o.job_id = t.job_id AND o.key = t.key AND o.name = 'anchors')
            FROM tasks t;
        CREATE TABLE attempts_0004 (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            number INTEGER NOT NULL,
            worker TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL NOT NULL,
            outcome TEXT NOT NULL,          -- done | failed | lost | cancelled | handed-back | coordinator-restart
            error TEXT
        );
        INSERT INTO attempts_0004 (job_id, key, number, worker, started_at, ended_at, outcome, error)
            SELECT job_id, key, number, worker, started_at, ended_at, outcome, error FROM attempts
            WHERE outcome IS NOT NULL ORDER BY ended_at, job_id, key, number;
        DROP TABLE tasks;
        DROP TABLE attempts;
        DROP TABLE outputs;
        ALTER TABLE tasks_0004 RENAME TO tasks;
        ALTER TABLE attempts_0004 RENAME TO attempts;
        CREATE INDEX attempts_job ON attempts(job_id);

        CREATE TABLE task_deps_0004 (
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            dep TEXT NOT NULL,
            PRIMARY KEY (job_id, dep, key)
        ) WITHOUT ROWID;
        INSERT INTO task_deps_0004 SELECT job_id, key, dep FROM task_deps;
        DROP TABLE task_deps;
        ALTER TABLE task_deps_0004 RENAME TO task_deps;
        """

    /// 0003: where a job's storyboard resolves relative paths (weights, keyframe and reference images).
    static let jobBaseDirectory = "ALTER TABLE jobs ADD COLUMN base_directory TEXT;"

    /// 0002: find a job's unfinished tasks without scanning all of them.
    static let taskStateIndex = "CREATE INDEX tasks_job_state ON tasks(job_id, state);"

    /// 0001: jobs, shots, tasks with their dependencies, attempts (the lease history), outputs, artifacts and workers.
    static let initial = """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            source TEXT NOT NULL,
            storyboard TEXT NOT NULL,
            priority INTEGER NOT NULL,
            state TEXT NOT NULL,            -- queued | running | assembling | done | failed | cancelled
            error TEXT,
            film TEXT,                      -- artifact hash of the finished MP4
            film_size INTEGER,
            created_at REAL NOT NULL,
            finished_at REAL
        );
        CREATE TABLE tasks (
            job_id TEXT NOT NULL REFERENCES jobs(id),
            key TEXT NOT NULL,              -- "<shot>/<index>" or "<shot>/anchors"
            kind TEXT NOT NULL,             -- segment | anchors
            shot INTEGER NOT NULL,
            position INTEGER NOT NULL,      -- film order of segments; anchors first
            frames INTEGER NOT NULL,        -- frames owned (segments)
            state TEXT NOT NULL,            -- waiting | ready | running | done | cancelled
            deps_left INTEGER NOT NULL,
            remaining INTEGER NOT NULL,     -- work on the longest path from here to the end of the job
            attempts INTEGER NOT NULL DEFAULT 0,   -- leases handed out; the current lease is this number
            failures INTEGER NOT NULL DEFAULT 0,   -- attempts that failed or were lost
            worker TEXT,
            step INTEGER NOT NULL DEFAULT 0,
            steps INTEGER NOT NULL DEFAULT 0,
            ready_at REAL,
            error TEXT,
            PRIMARY KEY (job_id, key)
        );
        CREATE INDEX tasks_ready ON tasks(state) WHERE state = 'ready';
        CREATE TABLE task_deps (
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            dep TEXT NOT NULL,
            PRIMARY KEY (job_id, dep, key)
        );
        CREATE TABLE attempts (
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            number INTEGER NOT NULL,
            worker TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            outcome TEXT,                   -- done | failed | lost | cancelled | handed-back | coordinator-restart
            error TEXT,
            PRIMARY KEY (job_id, key, number)
        );
        CREATE TABLE outputs (
            job_id TEXT NOT NULL,
            key TEXT NOT NULL,
            name TEXT NOT NULL,             -- chunk | audio | tail | anchors
            hash TEXT NOT NULL REFERENCES artifacts(hash),
            PRIMARY KEY (job_id, key, name)
        );
        CREATE TABLE artifacts (
            hash TEXT PRIMARY KEY,          -- SHA-256, hex; the file is artifacts/<hash[0..2]>/<hash>
            size INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            engines TEXT NOT NULL,
            device TEXT NOT NULL,
            slots INTEGER NOT NULL,
            memory INTEGER NOT NULL,
            max_pixels INTEGER NOT NULL,
            tags TEXT NOT NULL,
            state TEXT NOT NULL,            -- alive | draining | dead | gone
            registered_at REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        CREATE TABLE worker_job_failures (
            worker TEXT NOT NULL,
            job_id TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (worker, job_id)
        );
        """

    /// The images a job's storyboard names, kept as artifacts: path as the storyboard resolves it → hash.
    static let jobAssets = """
        CREATE TABLE job_assets (
            job_id TEXT NOT NULL,
            path TEXT NOT NULL,
            hash TEXT NOT NULL REFERENCES artifacts(hash),
            PRIMARY KEY (job_id, path)
        );
        """
}
