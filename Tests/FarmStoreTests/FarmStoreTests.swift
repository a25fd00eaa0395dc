import FarmCore
@testable import FarmStore
import Foundation
import GRDB
import Testing

@Suite struct FarmStoreTests {
    func store() throws -> FarmStore {
        try FarmStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)"))
    }

    /// a → b → c, and d on its own.
    func job(_ id: String = "j1") -> NewJob {
        NewJob(id: id, title: "t", source: "t.yaml", storyboard: "title: t", priority: 0, tasks: [
            NewTask(key: "s/0", kind: "segment", shot: 0, position: 0, frames: 10, dependsOn: [], remaining: 30),
            NewTask(key: "s/1", kind: "segment", shot: 0, position: 1, frames: 10, dependsOn: ["s/0"], remaining: 20),
            NewTask(key: "s/2", kind: "segment", shot: 0, position: 2, frames: 10, dependsOn: ["s/1"], remaining: 10),
            NewTask(key: "u/0", kind: "segment", shot: 1, position: 3, frames: 5, dependsOn: [], remaining: 5),
        ])
    }

    @Test func migrationsAreNumberedAndApplied() throws {
        #expect(try store().appliedMigrations() == ["0001_initial", "0002_task_state_index", "0003_job_base_directory", "0004_hot_path_layout",
                                                 "0005_job_assets", "0006_engine_geometries", "0007_reuse_and_revisions",
                                                 "0008_dashboard"])
    }

    @Test func dependenciesReleaseTasksInOrder() throws {
        let s = try store()
        let ready = try s.insert(job(), now: 1)
        #expect(Set(ready.map(\.task.key)) == ["s/0", "u/0"])
        let a = TaskKey(job: "j1", key: "s/0")
        #expect(try s.dispatch([(a, "w1")], now: 2) == [1])
        let next = try s.complete(a, attempt: 1, outputs: [("chunk", "abc", 3)], priority: 0, now: 3)
        #expect(next.map(\.task.key) == ["s/1"])
        #expect(try s.outputs(job: "j1")["s/0"]?["chunk"] == "abc")
        #expect(try s.job("j1")?.state == .running)
    }

    @Test func staleLeasesAreRefusedAndNothingCompletesTwice() throws {
        let s = try store()
        _ = try s.insert(job(), now: 1)
        let a = TaskKey(job: "j1", key: "s/0")
        _ = try s.dispatch([(a, "w1")], now: 2)
        // Worker w1 is lost; the task goes to w2 as attempt 2.
        #expect(try s.endLease(a, attempt: 1, outcome: "lost", reason: "silent", maxFailures: 3, now: 3) != .stale)
        #expect(try s.dispatch([(a, "w2")], now: 4) == [2])
        #expect(try s.attempts(job: "j1").filter { $0.key == "s/0" }.map(\.outcome) == ["lost", nil])
        #expect(throws: StaleLease.self) { try s.complete(a, attempt: 1, outputs: [], priority: 0, now: 5) }
        _ = try s.complete(a, attempt: 2, outputs: [], priority: 0, now: 6)
        #expect(throws: StaleLease.self) { try s.complete(a, attempt: 2, outputs: [], priority: 0, now: 7) }
        let history = try s.attempts(job: "j1").filter { $0.key == "s/0" }
        #expect(history.map(\.outcome) == ["lost", "done"])
        #expect(history.map(\.worker) == ["w1", "w2"])
    }

    /// A finished task whose output was found damaged runs again, once: its dependents (done) are left alone and
    /// the job runs again; a second time it is refused with nothing changed.
    @Test func aDamagedTaskRunsAgainOnce() throws {
        let s = try store()
        _ = try s.insert(job(), now: 1)
        for key in ["s/0", "s/1", "s/2", "u/0"] {
            let t = TaskKey(job: "j1", key: key)
            _ = try s.dispatch([(t, "w")], now: 2)
            _ = try s.complete(t, attempt: 1, outputs: [("chunk", "c-\(key)", 3)], priority: 0, now: 3)
        }
        try s.setJob("j1", state: .assembling, now: 4)
        // Not done: refused, nothing changes.
        #expect(try s.rerunDamaged(job: "j1", keys: ["s/1", "nope"], now: 5) == nil)
        #expect(try s.tasks(job: "j1").map(\.state) == ["done", "done", "done", "done"])
        let ready = try #require(try s.rerunDamaged(job: "j1", keys: ["s/1"], now: 5))
        #expect(ready.map(\.task.key) == ["s/1"] && ready.first?.remaining == 20)
        #expect(try s.job("j1")?.state == .running)
        #expect(try s.outputs(job: "j1")["s/1"]?["chunk"] == nil)
        let s1 = TaskKey(job: "j1", key: "s/1")
        #expect(try s.dispatch([(s1, "w2")], now: 6) == [2])
        // Its dependent s/2 is done already: completing s/1 again releases nothing.
        #expect(try s.complete(s1, attempt: 2, outputs: [("chunk", "c-s/1", 3)], priority: 0, now: 7).isEmpty)
        #expect(try s.tasks(job: "j1").map(\.state) == ["done", "done", "done", "done"])
        #expect(try s.unfinishedTasks(job: "j1") == 0)
        // Damaged again after its rerun: not run a third time.
        #expect(try s.rerunDamaged(job: "j1", keys: ["s/1"], now: 8) == nil)
        #expect(try s.attempts(job: "j1").filter { $0.key == "s/1" }.map(\.outcome) == ["done", "done"])
    }

    @Test func threeFailuresFailTheJobButHandBacksDoNot() throws {
        let s = try store()
        _ = try s.insert(job(), now: 1)
        let a = TaskKey(job: "j1", key: "s/0")
        for n in 1...2 {
            _ = try s.dispatch([(a, "w")], now: 2)
            guard case .requeued = try s.endLease(a, attempt: n, outcome: "failed", reason: "boom \(n)", maxFailures: 3, now: 3) else {
                Issue.record("failure \(n) should requeue")
                return
            }
        }
        _ = try s.dispatch([(a, "w")], now: 4)
        #expect(try s.endLease(a, attempt: 3, outcome: "handed-back", reason: "draining", maxFailures: 3, now: 5) != .jobFailed(reason: ""))
        _ = try s.dispatch([(a, "w")], now: 6)
        guard case .jobFailed(let reason) = try s.endLease(a, attempt: 4, outcome: "failed", reason: "boom 3", maxFailures: 3, now: 7) else {
            Issue.record("the third failure should fail the job")
            return
        }
        #expect(reason.contains("boom 3"))
    }

    @Test func restartRequeuesRunningTasksAndKeepsFinishedOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        do {
            let s = try FarmStore(directory: dir)
            _ = try s.insert(job(), now: 1)
            let a = TaskKey(job: "j1", key: "s/0"), u = TaskKey(job: "j1", key: "u/0")
            _ = try s.dispatch([(a, "w"), (u, "w")], now: 2)
            _ = try s.complete(a, attempt: 1, outputs: [], priority: 0, now: 3)
        }
        let s = try FarmStore(directory: dir)
        #expect(try s.recoverAfterRestart(now: 4) >= 1)
        let tasks = Dictionary(uniqueKeysWithValues: try s.tasks(job: "j1").map { ($0.key, $0) })
        #expect(tasks["s/0"]?.state == "done" && tasks["s/0"]?.attempts == 1)
        #expect(tasks["u/0"]?.state == "ready")
        #expect(Set(try s.readyTasks().map(\.task.key)) == ["s/1", "u/0"])
        #expect(try s.attempts(job: "j1").first { $0.key == "u/0" }?.outcome == "coordinator-restart")
    }

    /// A data directory written before 0004 keeps its jobs, leases and history, and the open lease still completes.
    @Test func hotPathLayoutMigrationKeepsEverything() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            let pool = try DatabasePool(path: dir.appendingPathComponent("reelfarm.sqlite").path)
            try Migrations.migrator.migrate(pool, upTo: "0003_job_base_directory")
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO jobs (id, title, source, storyboard, priority, state, created_at) VALUES ('j1', 't', 's', 'x', 2, 'running', 1);
                    INSERT INTO tasks (job_id, key, kind, shot, position, frames, state, deps_left, remaining, attempts, failures, worker)
                        VALUES ('j1', 's/0', 'segment', 0, 0, 10, 'done', 0, 20, 1, 0, 'w1'),
                               ('j1', 's/1', 'segment', 0, 1, 10, 'running', 0, 10, 2, 1, 'w2');
                    INSERT INTO task_deps (job_id, key, dep) VALUES ('j1', 's/1', 's/0');
                    INSERT INTO attempts (job_id, key, number, worker, started_at, ended_at, outcome)
                        VALUES ('j1', 's/0', 1, 'w1', 2, 3, 'done'), ('j1', 's/1', 1, 'w1', 3, 4, 'lost');
                    INSERT INTO attempts (job_id, key, number, worker, started_at) VALUES ('j1', 's/1', 2, 'w2', 5);
                    INSERT INTO artifacts (hash, size, created_at) VALUES ('abc', 3, 3);
                    INSERT INTO outputs (job_id, key, name, hash) VALUES ('j1', 's/0', 'tail', 'abc');
                    """)
            }
        }
        let s = try FarmStore(directory: dir)
        #expect(try s.appliedMigrations().contains("0004_hot_path_layout"))
        #expect(try s.tasks(job: "j1").map(\.state) == ["done", "running"])
        #expect(try s.output(job: "j1", key: "s/0", name: "tail") == "abc")
        _ = try s.complete(TaskKey(job: "j1", key: "s/1"), attempt: 2, outputs: [], priority: 2, now: 6)
        let history = try s.attempts(job: "j1")
        #expect(history.map(\.outcome) == ["done", "lost", "done"])
        #expect(history.map(\.worker) == ["w1", "w1", "w2"])
    }

    /// A finished job releases its intermediates, except those another job still holds (unfinished, or finished with
    /// its intermediates kept), and films.
    @Test func releasedIntermediatesAreThoseNothingElseNeeds() throws {
        let s = try store()
        for id in ["j1", "j2"] { _ = try s.insert(job(id), now: 1) }
        func finish(_ job: String, _ key: String, _ outputs: [(name: String, hash: String, size: Int)]) throws {
            let t = TaskKey(job: job, key: key)
            _ = try s.dispatch([(t, "w")], now: 2)
            _ = try s.complete(t, attempt: 1, outputs: outputs, priority: 0, now: 3)
        }
        try finish("j1", "s/0", [("chunk", "shared", 1), ("audio", "only-j1", 1)])
        try finish("j1", "u/0", [("chunk", "film-of-j2", 1)])
        try finish("j2", "s/0", [("chunk", "shared", 1)])
        try s.setJob("j1", state: .done, film: "film-of-j1", filmSize: 1, now: 4)
        try s.setJob("j2", state: .failed, film: "film-of-j2", filmSize: 1, now: 4)  // retryable: keeps its outputs
        #expect(try s.releaseIntermediates(job: "j1") == ["only-j1"])
        #expect(try s.outputs(job: "j1").isEmpty)
        #expect(try s.outputs(job: "j2")["s/0"]?["chunk"] == "shared")
        try s.setJob("j2", state: .done, now: 5)
        #expect(try s.releaseIntermediates(job: "j2") == ["shared"])
        // j3 finished under `--keep-intermediates` (never released): j4 sharing its output leaves it in place.
        for id in ["j3", "j4"] {
            _ = try s.insert(job(id), now: 6)
            try finish(id, "s/0", [("chunk", "kept", 1)])
            try s.setJob(id, state: .done, film: "film-\(id)", filmSize: 1, now: 7)
        }
        #expect(try s.releaseIntermediates(job: "j4").isEmpty)
        #expect(try s.outputs(job: "j3")["s/0"]?["chunk"] == "kept")
    }

    /// A job takes finished tasks by reuse key: stored done with their outputs, counted for nobody's dependencies;
    /// a reused task must not wait on one that runs, and a task whose outputs were released is not offered.
    @Test func reusedTasksAreStoredDoneAndOnlyWithTheirDependencies() throws {
        let s = try store()
        var first = job("j1")
        for i in first.tasks.indices { first.tasks[i].reuseKey = "k-\(first.tasks[i].key)" }
        _ = try s.insert(first, now: 1)
        for key in ["s/0", "s/1"] {
            let t = TaskKey(job: "j1", key: key)
            _ = try s.dispatch([(t, "w")], now: 2)
            _ = try s.complete(t, attempt: 1, outputs: [("chunk", "c-\(key)", 1), ("audio", "a-\(key)", 1), ("tail", "t-\(key)", 1)],
                               priority: 0, now: 3)
        }
        let found = try s.reusable(["k-s/0", "k-s/1", "k-s/2", "k-u/0", "k-none"])
        #expect(Set(found.keys) == ["k-s/0", "k-s/1"])
        #expect(found["k-s/1"] == ReusableTask(from: TaskKey(job: "j1", key: "s/1"),
                                               outputs: ["chunk": "c-s/1", "audio": "a-s/1", "tail": "t-s/1"]))

        var second = job("j2")
        second.lineage = "j1"
        second.revision = 2
        for i in 0..<2 { second.tasks[i].reuse = found["k-\(second.tasks[i].key)"] }
        let ready = try s.insert(second, now: 4)
        // s/2 waited on s/1 only, which is reused: it is ready at once, with u/0.
        #expect(Set(ready.map(\.task.key)) == ["s/2", "u/0"])
        #expect(try s.reusedFrom(job: "j2") == ["s/0": "j1:s/0", "s/1": "j1:s/1"])
        #expect(try s.outputs(job: "j2")["s/1"]?["tail"] == "t-s/1")
        #expect(try s.unfinishedTasks(job: "j2") == 2)
        #expect(try s.revisions(film: "j1").map(\.id) == ["j1", "j2"])
        #expect(try s.job("j2")?.filmID == "j1")

        // A reused task whose dependency runs is refused (the dependency's completion would wake a done task).
        var broken = job("j3")
        broken.tasks[1].reuse = found["k-s/1"]
        #expect(throws: StoreError.self) { try s.insert(broken, now: 5) }
        #expect(try s.job("j3") == nil)

        // Released outputs are not offered; a key forgotten (another engine made it) neither.
        try s.setJob("j1", state: .done, now: 6)
        try s.setJob("j2", state: .done, now: 6)
        _ = try s.releaseIntermediates(job: "j2")
        _ = try s.releaseIntermediates(job: "j1")
        #expect(try s.reusable(["k-s/0"]).isEmpty)
        #expect(try s.outputs(job: "j1").isEmpty)
        var third = job("j4")
        third.tasks[0].reuseKey = "k-fresh"
        _ = try s.insert(third, now: 7)
        let t = TaskKey(job: "j4", key: "s/0")
        _ = try s.dispatch([(t, "w")], now: 8)
        _ = try s.complete(t, attempt: 1, outputs: [("chunk", "c", 1), ("audio", "a", 1)], priority: 0, now: 9)
        #expect(try s.reusable(["k-fresh"]).count == 1)
        try s.forgetReuseKey(t)
        #expect(try s.reusable(["k-fresh"]).isEmpty)
    }

    /// Start-up removes artifact files nothing refers to, and keeps outputs and films.
    @Test func theSweepKeepsWhatTheStoreRefersTo() throws {
        let s = try store()
        _ = try s.insert(job(), now: 1)
        let output = try s.artifacts.put(Data("tail".utf8)), film = try s.artifacts.put(Data("film".utf8))
        let orphan = try s.artifacts.put(Data("never committed".utf8))
        try Data("half".utf8).write(to: s.artifacts.url(output).appendingPathExtension("tmp-1234"))
        let a = TaskKey(job: "j1", key: "s/0")
        _ = try s.dispatch([(a, "w")], now: 2)
        _ = try s.complete(a, attempt: 1, outputs: [("tail", output, 4)], priority: 0, now: 3)
        try s.setJob("j1", state: .done, film: film, filmSize: 4, now: 4)
        #expect(try s.sweepArtifacts() == 2)
        #expect(try s.artifacts.read(output) == Data("tail".utf8))
        #expect(try s.artifacts.read(film) == Data("film".utf8))
        #expect(!FileManager.default.fileExists(atPath: s.artifacts.url(orphan).path))
    }

    @Test func artifactsAreContentAddressed() throws {
        let s = try store()
        let h = try s.artifacts.put(Data("hello".utf8))
        #expect(h == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try s.artifacts.put(Data("hello".utf8)) == h)
        let big = Data((0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) })  // more than one read block
        let file = s.directory.appendingPathComponent("big.bin")
        try big.write(to: file)
        #expect(try ArtifactStore.digest(fileAt: file) == (ArtifactStore.digest(big), big.count))
        #expect(try s.artifacts.read(h) == Data("hello".utf8))
    }

    @Test func queueOrderIsPriorityThenRemainingPathThenAge() {
        let t = { (p: Int, r: Int, a: Double, k: String) in ReadyTask(task: TaskKey(job: "j", key: k), priority: p, remaining: r, readyAt: a) }
        let sorted = [t(0, 5, 1, "a"), t(1, 1, 9, "b"), t(0, 9, 5, "c"), t(0, 5, 0, "d")].sorted(by: ReadyTask.runsBefore)
        #expect(sorted.map(\.task.key) == ["b", "c", "d", "a"])
    }

    /// A farm that has seen many workers answers `workers` a page at a time: connected ones first, then by
    /// registration, with the total and the count by state.
    @Test func workersComeInPagesConnectedFirst() throws {
        let s = try store()
        for i in 0..<1_203 {
            try s.upsertWorker(WorkerRecord(id: "w-\(i)", name: "w", engines: ["testcard"], device: "cpu", slots: 1, memory: 0,
                                            maxPixels: 1, tags: [], state: i % 100 == 99 ? "alive" : i % 2 == 0 ? "dead" : "gone",
                                            lastSeen: 0), now: Double(i))
        }
        let (first, total) = try s.workers(offset: 0, limit: 500)
        #expect(total == 614 && first.count == 500)
        #expect(first.prefix(12).allSatisfy { $0.state == "alive" } && first[12].state == "dead")
        let (last, _) = try s.workers(offset: 500, limit: 500)
        #expect(last.count == 114 && Set(first.map(\.id)).isDisjoint(with: last.map(\.id)))
        #expect(try s.workerStates() == ["alive": 12, "dead": 602, "gone": 589])
    }
}
