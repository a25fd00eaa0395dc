import FarmCore
import FarmStore
import Foundation
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
        #expect(try store().appliedMigrations() == ["0001_initial", "0002_task_state_index", "0003_job_base_directory"])
    }

    @Test func dependenciesReleaseTasksInOrder() throws {
        let s = try store()
        let ready = try s.insert(job(), now: 1)
        #expect(Set(ready.map(\.task.key)) == ["s/0", "u/0"])
        let a = TaskKey(job: "j1", key: "s/0")
        #expect(try s.dispatch([(a, "w1")], now: 2) == [1])
        let next = try s.complete(a, attempt: 1, outputs: [("chunk", "abc", 3)], now: 3)
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
        #expect(throws: StaleLease.self) { try s.complete(a, attempt: 1, outputs: [], now: 5) }
        #expect(try s.checkLease(a, attempt: 1) != nil)
        #expect(try s.checkLease(a, attempt: 2) == nil)
        _ = try s.complete(a, attempt: 2, outputs: [], now: 6)
        #expect(throws: StaleLease.self) { try s.complete(a, attempt: 2, outputs: [], now: 7) }
        let history = try s.attempts(job: "j1").filter { $0.key == "s/0" }
        #expect(history.map(\.outcome) == ["lost", "done"])
        #expect(history.map(\.worker) == ["w1", "w2"])
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
            _ = try s.complete(a, attempt: 1, outputs: [], now: 3)
        }
        let s = try FarmStore(directory: dir)
        #expect(try s.recoverAfterRestart(now: 4) >= 1)
        let tasks = Dictionary(uniqueKeysWithValues: try s.tasks(job: "j1").map { ($0.key, $0) })
        #expect(tasks["s/0"]?.state == "done" && tasks["s/0"]?.attempts == 1)
        #expect(tasks["u/0"]?.state == "ready")
        #expect(Set(try s.readyTasks().map(\.task.key)) == ["s/1", "u/0"])
        #expect(try s.attempts(job: "j1").first { $0.key == "u/0" }?.outcome == "coordinator-restart")
    }

    @Test func artifactsAreContentAddressed() throws {
        let s = try store()
        let h = try s.artifacts.put(Data("hello".utf8))
        #expect(h == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try s.artifacts.put(Data("hello".utf8)) == h)
        #expect(try s.artifacts.read(h) == Data("hello".utf8))
    }

    @Test func queueOrderIsPriorityThenRemainingPathThenAge() {
        let t = { (p: Int, r: Int, a: Double, k: String) in ReadyTask(task: TaskKey(job: "j", key: k), priority: p, remaining: r, readyAt: a) }
        let sorted = [t(0, 5, 1, "a"), t(1, 1, 9, "b"), t(0, 9, 5, "c"), t(0, 5, 0, "d")].sorted(by: ReadyTask.runsBefore)
        #expect(sorted.map(\.task.key) == ["b", "c", "d", "a"])
    }
}
