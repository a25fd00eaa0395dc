import FarmCore
@testable import FarmStore
import Foundation
import Testing

/// The listing, kept between listings, must always equal a full read: every way a job's row or its tasks change
/// (insert, dispatch, result, failure, loss, cancel, retry, rerun, priority, state, delete, restart) is noted by
/// the store.
@Suite struct JobListCacheTests {
    let s: FarmStore
    var cache = JobListCache()

    init() throws {
        s = try FarmStore(directory: FileManager.default.temporaryDirectory
            .appendingPathComponent("totals-\(UUID().uuidString)"))
    }

    func job(_ id: String) -> NewJob {
        NewJob(id: id, title: id, source: "\(id).yaml", storyboard: "title: \(id)", priority: 0, tasks: [
            NewTask(key: "a", kind: "segment", shot: 0, position: 0, frames: 10, dependsOn: [], remaining: 20),
            NewTask(key: "b", kind: "segment", shot: 0, position: 1, frames: 7, dependsOn: ["a"], remaining: 7),
        ])
    }

    /// The cache's answer after a step, against the store's full read.
    mutating func check(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let cached = try cache.listing(s, now: 0).jobs
        let totals = try s.jobTotals()
        #expect(cached.map(\.job) == (try s.jobs()), "after \(step)", sourceLocation: sourceLocation)
        #expect(cached.map(\.totals) == cached.map { totals[$0.job.id] }, "after \(step)", sourceLocation: sourceLocation)
    }

    @Test mutating func everyChangeOfATaskReachesTheListing() throws {
        try check("nothing")
        _ = try s.insert(job("j1"), now: 1)
        _ = try s.insert(job("j2"), now: 1)
        try check("two inserts")
        let a1 = TaskKey(job: "j1", key: "a"), b1 = TaskKey(job: "j1", key: "b"), a2 = TaskKey(job: "j2", key: "a")
        _ = try s.dispatch([(a1, "w"), (a2, "w")], now: 2)
        try check("dispatch")
        _ = try s.complete(a1, attempt: 1, outputs: [("chunk", "c1", 3)], priority: 0, now: 3)
        try check("a result that readies a dependent")
        _ = try s.endLease(a2, attempt: 1, outcome: "lost", reason: "silent", maxFailures: 3, now: 4)
        try check("a lost lease")
        _ = try s.dispatch([(b1, "w")], now: 5)
        _ = try s.stopJob("j1", state: .cancelled, reason: "by a client", now: 6)
        try check("a cancel with a task running")
        _ = try s.retryJob("j1", now: 7)
        try check("a retry")
        _ = try s.dispatch([(b1, "w")], now: 8)
        _ = try s.complete(b1, attempt: 2, outputs: [("chunk", "c2", 3)], priority: 0, now: 9)
        try s.setJob("j1", state: .assembling, now: 9)
        try check("the last result")
        try s.setPriority(job: "j2", priority: 5)
        try check("a priority change")
        _ = try s.rerunDamaged(job: "j1", keys: ["a"], now: 10)
        try check("a damaged task run again")
        _ = try s.dispatch([(a2, "w")], now: 11)
        _ = try s.recoverAfterRestart(now: 12)
        try check("a restart's recovery")
        _ = try s.deleteJob("j2")
        try check("a delete")
    }

    /// A large running job's totals are counted off the loop (the listing answers at once with the last count; its
    /// row is read at once) and a later listing takes the new count; once the job ends they are exact at once.
    @Test mutating func aLargeRunningJobsTotalsAreCountedOffTheLoop() throws {
        let n = JobListCache.largeJob
        _ = try s.insert(NewJob(id: "big", title: "big", source: "b.yaml", storyboard: "title: big", priority: 0,
                                tasks: (0 ..< n).map {
                                    NewTask(key: "t\($0)", kind: "segment", shot: 0, position: $0, frames: 1,
                                            dependsOn: [], remaining: 1)
                                }), now: 1)
        #expect(try cache.listing(s, now: 10).jobs.first?.totals?.tasksDone == 0)
        let t = TaskKey(job: "big", key: "t0")
        _ = try s.dispatch([(t, "w")], now: 2)
        _ = try s.complete(t, attempt: 1, outputs: [], priority: 0, now: 3)
        try s.setPriority(job: "big", priority: 4)
        let first = try cache.listing(s, now: 10.5)
        #expect(first.jobs.first?.job.priority == 4)
        #expect(first.jobs.first?.totals?.tasksDone == 0, "counted on the loop")
        // The count arrives; the listing that takes it names the job fresh.
        var now = 10.6, counted: (jobs: [(job: JobRecord, totals: JobTotals?)], fresh: Set<String>?)?
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let l = try cache.listing(s, now: now)
            if l.jobs.first?.totals?.tasksDone == 1 {
                counted = l
                break
            }
            now += 0.01
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(counted?.fresh?.contains("big") == true)
        // Finished: exact at once, on the loop.
        let u = TaskKey(job: "big", key: "t1")
        _ = try s.dispatch([(u, "w")], now: 4)
        _ = try s.complete(u, attempt: 1, outputs: [], priority: 0, now: 5)
        try s.setJob("big", state: .cancelled, now: 6)
        #expect(try cache.listing(s, now: now).jobs.first?.totals?.tasksDone == 2)
    }

    /// The verifier fails when a change is not noted: a task finished behind the store's back (raw SQL) leaves the
    /// cache stale, and only a full read sees it.
    @Test mutating func aChangeTheStoreDidNotNoteIsMissed() throws {
        _ = try s.insert(job("j1"), now: 1)
        try check("an insert")
        try s.db.write { try $0.execute(sql: "UPDATE tasks SET state = 'done' WHERE job_id = 'j1' AND key = 'a'") }
        let cached = try cache.listing(s, now: 0).jobs
        #expect(cached.first?.totals?.tasksDone == 0)
        #expect(try s.jobTotals()["j1"]?.tasksDone == 1)
    }
}
