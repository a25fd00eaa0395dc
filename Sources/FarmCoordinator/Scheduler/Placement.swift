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

/// The scheduling decision, shared by the coordinator and the simulator, in three passes.
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
/// 3. Still in ``placeHeld()``: while a slower worker is left idle, a waiting task whose path behind it that worker
///    can end in time (once the task has run on a fast worker) swaps with the least urgent task starting now on a
///    fast worker, if that one's path from the waiting task's booking still ends before all the workers together
///    could end everything. Long chains first (pass 1) would otherwise leave the short chains' last tasks to a final
///    wave on the fast workers while the slow ones idle.
///
/// Speed classes are kept per group; work booked for one group's tasks counts in the other groups' classes only
/// through the slots it takes (the horizon of pass 2 is an estimate either way).
///
/// Workers are grouped by speed class (speeds within a factor 2^¼ share one), so a task costs O(classes · log workers)
/// in each pass, not O(workers). Deterministic: ties go to the faster class, then to the worker with most free slots,
/// then by id.
public struct PlacementBoard<Group: Hashable> {
    public let workers: [PlacementWorker]
    public let now: Double
    /// Work units not placed yet (ready and waiting tasks alike), across everything the board will be asked about.
    public private(set) var backlog: Double
    private var slots: [[Double]]
    private var freeNow: Int
    private var groups: [Group: [SpeedClass]] = [:]
    /// Tasks told to wait, by the number of the `place` call: where their slot is booked.
    private var held: [Booking] = []
    /// Tasks told to start now, by the number of the `place` call.
    private var running: [Booking] = []
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
        let booking = Booking(call: calls, task: task, group: group, cls: k, worker: top.worker, start: top.start)
        guard top.start <= now else {
            held.append(booking)
            return .wait(worker: top.worker, start: top.start)
        }
        running.append(booking)
        return .run(worker: top.worker)
    }

    /// The second and third passes, once after the last `place`: the tasks whose outcome changes, by the number of
    /// their `place` call (counting from 0) — waiting tasks that start now after all, and tasks told to start now that
    /// wait after all, giving their worker to a task whose path a slower worker can end.
    public mutating func placeHeld() -> [(call: Int, outcome: PlacementOutcome)] {
        var changed: [(call: Int, outcome: PlacementOutcome)] = []
        var moved: Set<Int> = []
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
                changed.append((h.call, .run(worker: top.worker)))
                moved.insert(h.call)
                break
            }
            groups[h.group] = classes
        }
        changed += feedIdleSlowerWorkers(held.filter { !moved.contains($0.call) })
        held.removeAll()
        running.removeAll()
        return changed.sorted { $0.call < $1.call }
    }

    /// The third pass: a waiting task whose path behind it an idle slower worker can end in time, once the task has
    /// run on a fast worker, takes the fast worker of the least urgent task of its group and class that starts now
    /// and whose own path no slower worker could end (that one takes the waiting task's booking instead, if its path
    /// from there still ends before all the workers together could end everything). Ranking by path length alone
    /// runs the long chains first and leaves the short ones' last tasks for a final wave on the fast workers while
    /// the slow ones idle; this way the slow workers get the last tasks early enough to end them. Each swap reserves
    /// one idle slower slot for the path it feeds (within this dispatch; the next one sees the slot idle again until
    /// the fed task arrives, and is held back by the same horizons).
    ///
    /// O(held + running) with O(classes) each: the candidates to give up their worker are kept per group and class and
    /// taken from the least urgent end.
    private mutating func feedIdleSlowerWorkers(_ waiting: [Booking]) -> [(call: Int, outcome: PlacementOutcome)] {
        guard !waiting.isEmpty, !running.isEmpty else { return [] }
        var changed: [(call: Int, outcome: PlacementOutcome)] = []
        var givers: [GroupClass: [Booking]] = [:]
        for r in running { givers[GroupClass(group: r.group, cls: r.cls), default: []].append(r) }
        for h in waiting {
            let after = max(0, h.task.rank - h.task.work)
            let key = GroupClass(group: h.group, cls: h.cls)
            guard after > 0, givers[key]?.isEmpty == false, var classes = groups[h.group],
                  let fastest = classes.first?.speed else { continue }
            // The fastest slower class with an idle slot, and the horizon of the classes faster than it.
            var capacity = 0.0, committed = 0.0, idle: Int?
            for j in classes.indices {
                if j > h.cls, classes[j].idle > 0 {
                    idle = j
                    break
                }
                (capacity, committed) = (capacity + classes[j].capacity, committed + classes[j].committed)
            }
            // The count is this group's; another group's bookings show only in its queue (checked here).
            guard let j = idle, capacity > 0, let free = validTop(&classes[j]), free.start <= now else { continue }
            let horizon = now + (backlog + committed) / capacity
            let fast = classes[h.cls].speed, slow = classes[j].speed
            guard now + h.task.work / fast + after / slow <= horizon else { continue }
            // The least urgent task starting now whose path no slower worker could end, if it still ends in time.
            while let r = givers[key]?.last {
                let rAfter = max(0, r.task.rank - r.task.work)
                guard rAfter > 0, now + r.task.work / fast + rAfter / slow <= horizon else { break }
                givers[key]?.removeLast()  // it feeds a slower worker already: it keeps its worker
            }
            guard let r = givers[key]?.last else { continue }
            // Its path, from the waiting task's booking, must end before all the workers together could end
            // everything: the horizon of the faster ones alone is too loose for it when the slower ones are many.
            let all = classes.reduce((0.0, 0.0)) { ($0.0 + $1.capacity, $0.1 + $1.committed) }
            let together = now + (backlog + all.1) / all.0
            let delayed = h.start + r.task.work / fast + max(0, r.task.rank - r.task.work) / fastest
            guard delayed <= together else { continue }
            givers[key]?.removeLast()
            classes[j].idle -= 1
            groups[h.group] = classes
            changed.append((h.call, .run(worker: r.worker)))
            changed.append((r.call, .wait(worker: h.worker, start: h.start)))
        }
        return changed
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
        if top.start <= now {
            freeNow -= 1
            c.idle -= 1
        }
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
            c.idle += slots[w].prefix { $0 <= now }.count
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
        /// Its slots free now and not booked.
        var idle = 0
        var queue = MinHeap<Entry>()
    }

    /// A task's place on the board: its `place` call, and the slot booked for it.
    private struct Booking {
        var call: Int
        var task: PlacementTask
        var group: Group
        var cls: Int
        var worker: Int
        var start: Double
    }

    private struct GroupClass: Hashable {
        var group: Group
        var cls: Int
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
        for (call, outcome) in board.placeHeld() { out[call] = outcome }
        return out
    }
}
