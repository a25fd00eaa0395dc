import Foundation

/// The connected workers, keyed by ROUTER identity and by worker id, with the counters the gauges show and the
/// structures that keep the loop's cost independent of idle workers:
/// - an index of workers with a free slot (dispatch looks only at those);
/// - liveness deadlines in the order they fall due (a heartbeat costs O(1); nobody is scanned to find the dead);
/// - heartbeat turns, spread evenly over the period (no burst of every send at once).
///
/// Owned by the coordinator loop's thread.
final class SessionTable {
    private(set) var byIdentity: [Data: WorkerSession] = [:]
    private var byID: [String: WorkerSession] = [:]
    /// Identities of workers with a free slot (not draining, fewer leases than slots).
    private(set) var withFreeSlots: Set<Data> = []
    /// Set when a slot frees up or a worker joins; the dispatcher clears it (see ``Coordinator/dispatchReady()``).
    var slotsFreed = false
    private(set) var draining = 0
    /// Grows whenever a worker joins, leaves, starts or stops draining: what is cached about "which workers could
    /// take this" holds while it stays the same.
    private(set) var membership = 0
    private(set) var slots = 0
    private(set) var busySlots = 0
    private var deadlines = TimedQueue<WorkerSession>()
    private var beats = HeartbeatWheel()
    /// A session's liveness entry is refreshed at most this often (a heartbeat between refreshes only moves
    /// `lastSeen`; the deadline check looks at that before it declares anyone dead).
    static let deadlineGranularity = 0.05

    var count: Int { byIdentity.count }
    var isEmpty: Bool { byIdentity.isEmpty }
    var all: Dictionary<Data, WorkerSession>.Values { byIdentity.values }

    subscript(identity: Data) -> WorkerSession? { byIdentity[identity] }
    func session(id: String) -> WorkerSession? { byID[id] }

    /// Adds a session (replacing any on the same identity or with the same worker id; see ``remove(_:)``).
    func insert(_ s: WorkerSession, now: Double) {
        if let old = byIdentity[s.identity] { remove(old) }
        if let old = byID[s.id] { remove(old) }
        byIdentity[s.identity] = s
        byID[s.id] = s
        s.table = self
        slots += s.hello.slots
        busySlots += s.leases.count
        if s.draining { draining += 1 }
        if s.freeSlots > 0 { withFreeSlots.insert(s.identity); slotsFreed = true }
        s.queuedAt = now
        membership += 1
        deadlines.push(s, due: now)
        beats.add(s)
    }

    /// Removes a session; its queued deadline and heartbeat entries are skipped when they come up.
    @discardableResult
    func remove(_ s: WorkerSession) -> WorkerSession? {
        guard byIdentity[s.identity] === s else { return nil }
        byIdentity[s.identity] = nil
        if byID[s.id] === s { byID[s.id] = nil }
        s.table = nil
        membership += 1
        slots -= s.hello.slots
        busySlots -= s.leases.count
        if s.draining { draining -= 1 }
        withFreeSlots.remove(s.identity)
        return s
    }

    func remove(identity: Data) -> WorkerSession? { byIdentity[identity].flatMap { remove($0) } }

    /// A message arrived from `s`: it is alive at `now`.
    func touch(_ s: WorkerSession, now: Double) {
        s.lastSeen = now
        if now - s.queuedAt >= Self.deadlineGranularity {
            s.queuedAt = now
            deadlines.push(s, due: now)
        }
    }

    /// Sessions silent for more than `limit` seconds at `now`, removed from the table (oldest silence first).
    func reapSilent(now: Double, limit: Double) -> [WorkerSession] {
        let dead = silentSessions(now: now, limit: limit)
        for s in dead { remove(s) }
        return dead
    }

    /// The sessions silent past `limit` at `now`, taken off the deadline queue but still members: ``remove(_:)`` each,
    /// or ``spare(_:)`` it to be judged again.
    func silentSessions(now: Double, limit: Double) -> [WorkerSession] {
        var dead: [WorkerSession] = []
        while let (seen, s) = deadlines.pop(dueBy: now - limit) {
            // A stale entry: the session left, or a newer entry for it is queued.
            guard byIdentity[s.identity] === s, s.queuedAt == seen else { continue }
            if now - s.lastSeen > limit {
                dead.append(s)
            } else {
                // Seen within the granularity after its last entry: queue the deadline it really has.
                s.queuedAt = s.lastSeen
                deadlines.push(s, due: s.lastSeen)
            }
        }
        return dead
    }

    /// When the next liveness check can find someone dead (`limit` after the oldest queued sighting).
    /// Puts a silent session back on the deadline queue at `now` (the queue stays in time order), so that it is judged
    /// again one limit later (see ``silentSessions(now:limit:)``).
    func spare(_ s: WorkerSession, now: Double) {
        guard byIdentity[s.identity] === s else { return }
        s.queuedAt = now
        deadlines.push(s, due: now)
    }

    func nextDeadline(limit: Double) -> Double? { deadlines.nextDue.map { $0 + limit } }

    /// Sessions whose heartbeat turn came since the last call (see ``HeartbeatWheel``).
    func heartbeatsDue(now: Double, period: Double) -> [WorkerSession] {
        beats.due(now: now, period: period) { $0.table === self }
    }

    /// Keeps the counters and the free-slot index in step with a session's change.
    func sessionChanged(_ s: WorkerSession, busy: Int, drained: Bool, undrained: Bool = false, hadFree: Bool) {
        busySlots += busy
        if drained { draining += 1 }
        if undrained { draining -= 1 }
        if drained || undrained { membership += 1 }
        if s.freeSlots > 0 {
            withFreeSlots.insert(s.identity)
            if !hadFree || busy < 0 { slotsFreed = true }
        } else {
            withFreeSlots.remove(s.identity)
        }
    }
}
