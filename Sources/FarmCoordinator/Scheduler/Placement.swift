import Foundation

/// A worker as placement sees it: when each of its slots is (expected to be) free.
public struct PlacementWorker: Sendable, Equatable {
    /// Ties between equally good workers go to the smaller id.
    public var id: String
    /// One entry per slot: the time the slot's current task is expected to end; at or before `now`, free now.
    public var freeAt: [Double]
    /// Work units on the paths behind its running tasks (their ranks less their work): work no one can start before
    /// those tasks end.
    public var downstream: Double

    public init(id: String, freeAt: [Double], downstream: Double = 0) {
        self.id = id
        self.freeAt = freeAt
        self.downstream = downstream
    }
}

/// A ready task as placement sees it.
public struct PlacementTask: Sendable, Equatable {
    /// Work units (generated frames × pixels); a worker of speed `s` takes `work / s` seconds.
    public var work: Double
    /// Work on the longest path from this task to its job's end, itself included (HEFT's upward rank).
    public var rank: Double

    public init(work: Double, rank: Double) {
        self.work = work
        self.rank = rank
    }
}

/// What placement decided for one task.
public enum PlacementOutcome: Sendable, Equatable {
    /// Start it now on this free worker (an index into the board's workers).
    case run(worker: Int)
    /// Hold it back: this busy worker, free at `start`, finishes it sooner than any free one (its slot is reserved for
    /// the tasks placed after it).
    case wait(worker: Int, start: Double)
    /// No worker may run it.
    case unplaced
}

/// The scheduling decision, shared by the coordinator and the simulator, in two passes.
///
/// 1. ``place(_:group:speed:)``, for each ready task in priority order (job priority, then rank): the worker slot that
///    finishes it earliest (HEFT's earliest-finish-time rule), counting a slot busy now at the time it frees up. A
///    task whose earliest finish is on a busy worker waits for it, and books that slot for the tasks after it. One
///    exception: a task with nothing behind it, that a free fast worker would be done with no sooner than new work
///    reaches it (a running task with work behind it ends), waits for a busy slower worker that finishes it before
///    the faster workers alone could finish everything else: the fast worker idles no longer than the task would
///    have kept it, and the slow one gets work that will still be there when it frees up — the last segments of
///    chains, which it could otherwise never start in time.
/// 2. ``placeHeld()``, once the free slots are all taken or the tasks all seen: waiting tasks, least urgent first,
///    may still go to a free slower worker when it finishes them, and the rest of their path at the fastest speed,
///    before the faster workers could finish everything else still to do (the `backlog` and what they already have
///    booked), and when the faster workers keep enough work they can start before it ends (not the work on the paths
///    behind it or behind the slower workers' tasks: ``PlacementWorker/downstream``). Waiting would only have left
///    the slow worker idle; the least urgent go, so little waits behind a slow worker. Without this pass, a farm
///    whose ready tasks fit its fast workers' next minutes would never use its slow workers at all.
///
/// Speed classes are kept per group; work booked for one group's tasks counts in the other groups' classes only
/// through the slots it takes (the horizon of pass 2 is an estimate either way).
///
/// Workers are grouped by speed class (speeds within a factor 2^¼ share one), so a task costs O(classes · log workers),
/// not O(workers). Deterministic: ties go to the faster class, then to the worker with most free slots, then by id.
public struct PlacementBoard<Group: Hashable> {
    public let workers: [PlacementWorker]
    public let now: Double
    /// Work units not placed yet (ready and waiting tasks alike), across everything the board will be asked about.
    public private(set) var backlog: Double
    private var slots: [[Double]]
    private var freeNow: Int
    private var groups: [Group: [SpeedClass]] = [:]
    /// Tasks told to wait, by the number of the `place` call: where their slot is booked.
    private var held: [(call: Int, task: PlacementTask, group: Group, cls: Int)] = []
    private var calls = 0
    /// When the soonest running task with work behind it ends (new work for the fast workers, at the latest).
    private let nextWork: Double

    /// - Parameters:
    ///   - workers: the workers that may take tasks (a draining one is left out).
    ///   - backlog: the work units of every task not started yet.
    public init(workers: [PlacementWorker], now: Double, backlog: Double) {
        self.workers = workers
        self.now = now
        self.backlog = backlog
        let slots = workers.map { $0.freeAt.sorted() }
        self.slots = slots
        freeNow = slots.reduce(0) { n, s in n + s.prefix { $0 <= now }.count }
        nextWork = workers.indices.filter { workers[$0].downstream > 0 }
            .compactMap { w in slots[w].first { $0 > now } }.min() ?? .infinity
    }

    /// Whether some slot is still free now (the caller stops asking once none is).
    public var hasFreeSlot: Bool { freeNow > 0 }

    /// Decides where `task` goes by earliest finish, and books the slot.
    /// - Parameters:
    ///   - group: the tasks that share which workers may run them and at what speed (e.g. a job); `speed` is asked
    ///     only the first time a group is seen.
    ///   - speed: worker index → its speed for the group's tasks in work units per second, `nil` where it may not
    ///     run them.
    public mutating func place(_ task: PlacementTask, group: Group, speed: (Int) -> Double?) -> PlacementOutcome {
        defer { calls += 1 }
        if groups[group] == nil { groups[group] = classes(speed) }
        guard var classes = groups[group] else { return .unplaced }
        defer { groups[group] = classes }
        var best: (finish: Double, cls: Int, top: Entry)?
        for k in classes.indices {
            guard let top = validTop(&classes[k]) else { continue }
            let finish = top.start + task.work / top.speed
            if let b = best, (b.finish, -b.top.speed, b.top.id) <= (finish, -top.speed, top.id) { continue }
            best = (finish, k, top)
        }
        guard var (k, top) = best.map({ ($0.cls, $0.top) }) else { return .unplaced }
        if top.start <= now, task.rank <= task.work, nextWork - now <= task.work / top.speed {
            // The exception above: the first slower class (fastest first) whose next free worker ends it in time.
            var capacity = 0.0, committed = 0.0
            for j in classes.indices {
                defer { (capacity, committed) = (capacity + classes[j].capacity, committed + classes[j].committed) }
                guard j > k, let slow = validTop(&classes[j]), slow.start > now else { continue }
                let end = slow.start + task.work / slow.speed
                if end <= now + (backlog + committed - task.work) / capacity {
                    (k, top) = (j, slow)
                    break
                }
            }
        }
        book(task, on: top, in: &classes[k])
        backlog -= task.work
        guard top.start <= now else {
            held.append((calls, task, group, k))
            return .wait(worker: top.worker, start: top.start)
        }
        return .run(worker: top.worker)
    }

    /// The second pass, once after the last `place`: which waiting tasks (by the number of their `place` call,
    /// counting from 0) start now after all, and where.
    public mutating func placeHeld() -> [(call: Int, worker: Int)] {
        var moved: [(call: Int, worker: Int)] = []
        for h in held.reversed() {
            guard freeNow > 0 else { break }
            guard var classes = groups[h.group], let fastest = classes.first?.speed else { continue }
            var capacity = 0.0, committed = 0.0
            for f in classes.indices {
                defer { (capacity, committed) = (capacity + classes[f].capacity, committed + classes[f].committed) }
                guard f > h.cls, let top = validTop(&classes[f]), top.start <= now else { continue }
                let c = h.task.work, after = max(0, h.task.rank - c), seconds = c / top.speed
                // It must end, and its path on the fastest speed after it, before the faster workers alone could end
                // everything else...
                guard now + seconds + after / fastest <= now + (backlog + committed - c) / capacity else { continue }
                // ...and leave them enough they can start meanwhile: not the work behind it or behind slower workers.
                let blocked = classes[f...].reduce(after) { $0 + $1.downstream }
                guard backlog + committed - c - blocked >= capacity * seconds else { continue }
                book(h.task, on: top, in: &classes[f])
                // Its first booking leaves the faster class's load; the slot stays booked (nothing is placed after).
                classes[h.cls].committed -= c
                classes[h.cls].downstream -= after
                moved.append((h.call, top.worker))
                break
            }
            groups[h.group] = classes
        }
        held.removeAll()
        return moved.sorted { $0.call < $1.call }
    }

    /// Books the worker's soonest slot for `task` from `top.start`.
    private mutating func book(_ task: PlacementTask, on top: Entry, in c: inout SpeedClass) {
        let end = top.start + task.work / top.speed
        let w = top.worker
        slots[w].removeFirst()
        slots[w].insert(end, at: slots[w].firstIndex { $0 > end } ?? slots[w].count)
        c.queue.pop()
        c.queue.push(entry(w, speed: top.speed))
        c.committed += task.work
        c.downstream += max(0, task.rank - task.work)
        if top.start <= now { freeNow -= 1 }
    }

    /// The group's workers by speed class, fastest first.
    private func classes(_ speed: (Int) -> Double?) -> [SpeedClass] {
        var byBucket: [Int: SpeedClass] = [:]
        for w in workers.indices {
            guard let s = speed(w), s > 0, s.isFinite else { continue }
            let bucket = Int((log2(s) * 4).rounded(.down))
            var c = byBucket[bucket] ?? SpeedClass(speed: s)
            c.speed = max(c.speed, s)
            c.capacity += s * Double(slots[w].count)
            c.committed += slots[w].reduce(0) { $0 + ($1.isFinite ? max(0, $1 - now) : 0) } * s
            c.downstream += workers[w].downstream
            c.queue.push(entry(w, speed: s))
            byBucket[bucket] = c
        }
        return byBucket.sorted { $0.key > $1.key }.map(\.value)
    }

    private func entry(_ w: Int, speed: Double) -> Entry {
        let s = slots[w]
        return Entry(start: max(now, s.first ?? .infinity), free: s.prefix { $0 <= now }.count, id: workers[w].id,
                     worker: w, speed: speed)
    }

    /// The class's best worker, with entries that another group's placements made stale brought up to date first
    /// (a worker's entry only ever gets worse, so a stale one is always too early in the heap, never too late).
    private func validTop(_ c: inout SpeedClass) -> Entry? {
        while let top = c.queue.min {
            let current = entry(top.worker, speed: top.speed)
            if current == top { return current.start.isFinite ? current : nil }
            c.queue.pop()
            c.queue.push(current)
        }
        return nil
    }

    private struct SpeedClass {
        var speed: Double
        /// Work units per second of all its slots together.
        var capacity = 0.0
        /// Work units its slots have booked from now on.
        var committed = 0.0
        /// Work units on the paths behind the tasks its slots run or have booked.
        var downstream = 0.0
        var queue = MinHeap<Entry>()
    }

    /// A worker in a class's queue: soonest free, then most free slots, then smallest id.
    private struct Entry: Comparable {
        var start: Double
        var free: Int
        var id: String
        var worker: Int
        var speed: Double

        static func < (a: Entry, b: Entry) -> Bool {
            (a.start, b.free, a.id, a.worker) < (b.start, a.free, b.id, b.worker)
        }
    }
}

/// The placement rule as one pure function (``PlacementBoard`` applies it a task at a time).
public enum Placement {
    /// Where each of `tasks` (in priority order, all of one group) goes: both passes of ``PlacementBoard``, deciding
    /// until no slot is free.
    /// - Parameters:
    ///   - backlog: work units not started yet; `nil` for just these tasks'.
    ///   - speed: worker index → speed in work units per second, `nil` where it may not run them.
    /// - Returns: one outcome per task considered (fewer than `tasks` when the free slots ran out first).
    public static func decide(tasks: [PlacementTask], workers: [PlacementWorker], now: Double, backlog: Double? = nil,
                              speed: (Int) -> Double?) -> [PlacementOutcome] {
        let backlog = backlog ?? tasks.reduce(0) { $0 + $1.work }
        var board = PlacementBoard<Int>(workers: workers, now: now, backlog: backlog)
        var out: [PlacementOutcome] = []
        for t in tasks {
            guard board.hasFreeSlot else { break }
            out.append(board.place(t, group: 0, speed: speed))
        }
        for (call, worker) in board.placeHeld() { out[call] = .run(worker: worker) }
        return out
    }
}
