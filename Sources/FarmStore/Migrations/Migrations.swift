import GRDB

/// The store's schema, as numbered migrations. Never edit a migration that has shipped: add the next number.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("0001_initial") { db in try db.execute(sql: initial) }
        m.registerMigration("0002_task_state_index") { db in try db.execute(sql: taskStateIndex) }
        m.registerMigration("0003_job_base_directory") { db in try db.execute(sql: jobBaseDirectory) }
        return m
    }

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
}
