@testable import FarmCoordinator
import FarmStore
import FarmWire
import Foundation
import Testing

/// The session table's bookkeeping: counters, the free-slot index, liveness deadlines and heartbeat turns, without a
/// socket (the structures the coordinator loop relies on to cost nothing per idle worker).
@Suite struct SessionTableTests {
    func session(_ n: Int, slots: Int = 2, at now: Double) -> WorkerSession {
        WorkerSession(identity: Data([UInt8(n)]), id: "w-\(n)",
                      hello: Hello(name: "w", engines: ["testcard"], device: "cpu", slots: slots, memoryBytes: 1 << 30,
                                   maxFramePixels: 1 << 20, tags: [], running: []), now: now)
    }

    @Test func countersAndTheFreeIndexFollowLeasesAndDraining() throws {
        let table = SessionTable()
        let a = session(1, at: 0), b = session(2, at: 0)
        table.insert(a, now: 0)
        table.insert(b, now: 0)
        #expect(table.slots == 4 && table.busySlots == 0 && table.withFreeSlots.count == 2 && table.slotsFreed)
        table.slotsFreed = false
        let k1 = try #require(TaskKey(id: "job:s1")), k2 = try #require(TaskKey(id: "job:s2"))
        a.hold(k1, attempt: 1, at: 0)
        a.hold(k2, attempt: 1, at: 0)
        #expect(table.busySlots == 2 && table.withFreeSlots == [b.identity] && !table.slotsFreed)
        a.release(k1)
        #expect(table.busySlots == 1 && table.withFreeSlots.contains(a.identity) && table.slotsFreed)
        b.startDraining()
        #expect(table.draining == 1 && !table.withFreeSlots.contains(b.identity))
        table.remove(a)
        #expect(table.count == 1 && table.slots == 2 && table.busySlots == 0 && table.draining == 1)
        // A removed session's changes no longer move the table's counters.
        a.release(k2)
        #expect(table.busySlots == 0)
    }

    @Test func onlySessionsSilentPastTheLimitAreReaped() {
        let table = SessionTable()
        let quiet = session(1, at: 0), chatty = session(2, at: 0), gone = session(3, at: 0)
        for s in [quiet, chatty, gone] { table.insert(s, now: 0) }
        table.remove(gone)
        for t in stride(from: 0.5, through: 3.0, by: 0.5) { table.touch(chatty, now: t) }
        #expect(table.reapSilent(now: 2.9, limit: 3).isEmpty)
        #expect(table.nextDeadline(limit: 3) == 3)
        #expect(table.reapSilent(now: 3.01, limit: 3).map(\.id) == ["w-1"])
        #expect(table.count == 1 && table.reapSilent(now: 5.9, limit: 3).isEmpty)
        #expect(table.reapSilent(now: 6.1, limit: 3).map(\.id) == ["w-2"])
    }

    /// A loop behind its input (full receives, a batch a dashboard request cut short) declares nobody dead for the
    /// heartbeats it has not read yet: silence counts up to when it last read everything, and the log says it is behind.
    @Test func silenceCountsOnlyUpToWhenTheLoopLastCaughtUp() throws {
        let table = SessionTable()
        let s = session(1, at: 0)
        table.insert(s, now: 0)
        var clock = LivenessClock(start: 0)
        clock.received(startedAt: 1, drained: true, handledAll: true)
        clock.received(startedAt: 2, drained: false, handledAll: true)
        clock.received(startedAt: 4, drained: true, handledAll: false)
        let upTo = try #require(clock.reapTime(now: 5))
        #expect(upTo == 1 && table.nextDeadline(limit: 3).map { upTo > $0 } == false)
        #expect(table.reapSilent(now: upTo, limit: 3).isEmpty)
        let notices = [5, 6, 15.5].map { clock.behindNotice(now: $0, limit: 3) != nil }
        #expect(notices == [true, false, true])
        clock.received(startedAt: 4.5, drained: true, handledAll: true)
        #expect(table.reapSilent(now: try #require(clock.reapTime(now: 5)), limit: 3).map(\.id) == ["w-1"])
        let caughtUp = clock.behindNotice(now: 5, limit: 3)
        #expect(caughtUp == nil)
    }

    /// A stall of the loop itself (over a second between or inside iterations) holds reaping off for a whole limit.
    @Test func aStallHoldsReapingOffForAWholeLimit() {
        var clock = LivenessClock(start: 0)
        clock.received(startedAt: 10, drained: true, handledAll: true)
        clock.resumed(at: 10, after: 0.5, limit: 3)
        #expect(clock.reapTime(now: 10) == 10)
        clock.resumed(at: 10, after: 5, limit: 3)
        #expect(clock.reapTime(now: 12.9) == nil && clock.reapTime(now: 13) == 10)
    }

    /// Half the farm (and at least 50) silent at once is spared for 30 s, judged again every limit; fewer die at once.
    @Test func aMassSilenceIsSparedForThirtySecondsAndASmallOneIsNot() {
        let table = SessionTable()
        let all = (0..<100).map { session($0, at: 0) }
        for s in all { table.insert(s, now: 0) }
        var clock = LivenessClock(start: 0)
        func judge(at now: Double, keepAlive: ArraySlice<WorkerSession>) -> (silent: Int, spared: Bool) {
            for s in keepAlive { table.touch(s, now: now - 1) }
            let silent = table.silentSessions(now: now, limit: 3)
            let spared = clock.spares(silent: silent.count, of: table.count, now: now, limit: 3)
            for s in silent { if spared { table.spare(s, now: now) } else { table.remove(s) } }
            return (silent.count, spared)
        }
        // 60 fall silent: spared, and judged again only after a whole limit.
        #expect(judge(at: 3.5, keepAlive: all[60...]) == (60, true))
        #expect(clock.reapTime(now: 6.4) == nil && clock.massSince == 3.5 && table.count == 100)
        // Ten are heard again; the other 50 are still half the farm, spared until the 30 s are up.
        #expect(judge(at: 6.6, keepAlive: all[..<10] + all[60...]) == (50, true))
        #expect(judge(at: 9.7, keepAlive: all[..<10] + all[60...]) == (50, true))
        var t = 9.7
        while t < 33.5 { t += 3.1; _ = judge(at: t, keepAlive: all[..<10] + all[60...]) }
        #expect(table.count == 50 && clock.massSince == nil)
        // Fewer than half, or fewer than 50: dead at once.
        let small = [clock.spares(silent: 49, of: 60, now: 40, limit: 3), clock.spares(silent: 50, of: 101, now: 40, limit: 3)]
        #expect(small == [false, false] && clock.massSince == nil)
    }

    @Test func aSightingInsideTheGranularityStillCounts() {
        let table = SessionTable()
        let s = session(1, at: 0)
        table.insert(s, now: 0)
        table.touch(s, now: 0.01)  // within the granularity: lastSeen moves, no new entry is queued
        #expect(s.queuedAt == 0 && s.lastSeen == 0.01)
        #expect(table.reapSilent(now: 3.005, limit: 3).isEmpty)
        #expect(table.reapSilent(now: 3.02, limit: 3).map(\.id) == ["w-1"])
    }

    @Test func heartbeatTurnsAreSpreadAndAStallSkipsMissedTurns() {
        let table = SessionTable()
        let sessions = (0..<100).map { session($0, at: 0) }
        for s in sessions { table.insert(s, now: 0) }
        table.remove(sessions[7])
        _ = table.heartbeatsDue(now: 0, period: 1)  // starts the wheel
        // Over one period each worker gets one turn, two per 20 ms bucket (50 buckets), never all at once.
        var turns: [String: Int] = [:]
        var largest = 0
        for t in stride(from: 0.01, through: 1.0, by: 0.01) {
            let due = table.heartbeatsDue(now: t, period: 1)
            largest = max(largest, due.count)
            for s in due { turns[s.id, default: 0] += 1 }
        }
        #expect(turns.count == 99 && turns.values.allSatisfy { $0 == 1 } && turns["w-7"] == nil)
        #expect(largest <= 4, "\(largest) sends in one call")
        // Stalled for five periods: one turn each, then the spread goes on as before.
        let after = table.heartbeatsDue(now: 6.0, period: 1)
        #expect(after.count == 99 && Set(after.map(\.id)).count == 99)
        #expect(table.heartbeatsDue(now: 6.02, period: 1).count <= 4)
    }

    @Test func theTimedQueuePopsInOrderAndCompacts() {
        var q = TimedQueue<Int>()
        for i in 0..<10_000 { q.push(i, due: Double(i)) }
        var popped = 0
        while let (due, v) = q.pop(dueBy: 9_000) {
            #expect(Double(v) == due)
            popped += 1
        }
        #expect(popped == 9_001 && q.count == 999 && q.nextDue == 9_001)
    }

    @Test func histogramQuantilesAreBucketBounds() {
        var h = LoopHistogram()
        for _ in 0..<98 { h.add(0.0005) }
        h.add(0.04)
        h.add(0.7)
        #expect(h.upperBound(quantile: 0.98) == 0.001)
        #expect(h.upperBound(quantile: 0.99) == 0.05)
        #expect(h.upperBound(quantile: 1) == 1)
        #expect(h.max == 0.7 && h.count == 100)
        let later = { var l = h; l.add(0.2); return l }()
        #expect(later.since(h).count == 1 && later.since(h).upperBound(quantile: 1) == 0.2)
    }
}
