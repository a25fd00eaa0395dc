import FarmCore

/// A heterogeneous farm on a virtual clock running one job's plan with the coordinator's placement rule
/// (``PlacementBoard``): a task is ready when the tasks it depends on are done, costs its generated frames × pixels
/// in work units, and takes `work / speed` seconds on a worker of `speed`. Nothing is timed: the clock jumps from one
/// task's end to the next.
public struct ScheduleSimulator: Sendable {
    /// How the simulated coordinator chooses workers.
    public enum Policy: Sendable {
        /// ``PlacementBoard`` with every worker's true speed.
        case speedAware
        /// The rule before speeds were known: the free worker with the most free slots, ties by id, whatever its speed.
        case speedBlind
    }

    /// One task's run on the virtual clock.
    public struct Span: Sendable, Equatable {
        public var task: String
        public var worker: Int
        public var start: Double
        public var end: Double
    }

    /// What one simulation gives: its trace and how it compares with the lower bound.
    public struct Outcome: Sendable {
        public var spans: [Span]
        public var makespan: Double
        /// The larger of the critical path's work ÷ the fastest speed and the total work ÷ the farm's total speed.
        public var lowerBound: Double
        public var ratio: Double { lowerBound > 0 ? makespan / lowerBound : 1 }
    }

    public let plan: Plan
    /// Each worker's speed (one slot each), in frames per second at the film's size.
    public let speeds: [Double]
    /// Worker ids, for the tie-breaks: interleaved so that no kind of worker sorts first.
    public let ids: [String]

    /// - Parameter speeds: each worker's speed in frames per second at the film's size.
    public init(plan: Plan, speeds: [Double]) {
        self.plan = plan
        self.speeds = speeds
        ids = speeds.indices.map { "w" + String(100_000 + ($0 * 7_919) % 100_000) }
    }

    /// The lower bound on any schedule's makespan, in seconds.
    public var lowerBound: Double {
        guard let fastest = speeds.max(), fastest > 0 else { return .infinity }
        return max(Double(plan.criticalPath) / fastest, Double(plan.totalWork) / speeds.reduce(0, +))
    }

    /// Runs the plan to its end.
    public func run(_ policy: Policy) -> Outcome {
        let pixels = Double(plan.format.width * plan.format.height)
        let tasks = plan.tasks
        let index = Dictionary(uniqueKeysWithValues: tasks.enumerated().map { ($1.id, $0) })
        let frames = plan.work, path = plan.remainingPath
        let work = tasks.map { Double(frames[$0.id] ?? 0) * pixels }
        let rank = tasks.map { Double(path[$0.id] ?? 0) * pixels }
        var waiting = tasks.map(\.dependsOn.count)
        var dependents = [[Int]](repeating: [], count: tasks.count)
        for (i, t) in tasks.enumerated() { for d in t.dependsOn { if let j = index[d] { dependents[j].append(i) } } }
        // Ready tasks go in the coordinator's queue order: longest remaining path, then age, then id.
        var ready: [(task: Int, since: Double)] = tasks.indices.filter { waiting[$0] == 0 }.map { ($0, 0) }
        var freeAt = [Double](repeating: 0, count: speeds.count)
        var downstream = [Double](repeating: 0, count: speeds.count)
        var ends = MinHeap<End>()
        var spans: [Span] = []
        var backlog = work.reduce(0, +), now = 0.0
        while spans.count < tasks.count || !ends.isEmpty {
            if !ready.isEmpty, freeAt.contains(where: { $0 <= now }) {
                ready.sort { a, b in
                    (-rank[a.task], a.since, tasks[a.task].id) < (-rank[b.task], b.since, tasks[b.task].id)
                }
                let workers = speeds.indices.map {
                    PlacementWorker(id: ids[$0], freeAt: [freeAt[$0]],
                                    downstream: freeAt[$0] > now ? downstream[$0] : 0)
                }
                var board = PlacementBoard<Int>(workers: workers, now: now, backlog: backlog)
                var started: Set<Int> = []
                func start(_ task: Int, on w: Int) {
                    freeAt[w] = now + work[task] / (speeds[w] * pixels)
                    downstream[w] = rank[task] - work[task]
                    spans.append(Span(task: tasks[task].id, worker: w, start: now, end: freeAt[w]))
                    ends.push(End(time: freeAt[w], task: task))
                    backlog -= work[task]
                    started.insert(task)
                }
                var calls: [(task: Int, outcome: PlacementOutcome)] = []
                for r in ready {
                    guard board.hasFreeSlot else { break }
                    let t = PlacementTask(work: work[r.task], rank: rank[r.task])
                    calls.append((r.task, board.place(t, group: 0) { policy == .speedAware ? speeds[$0] * pixels : 1 }))
                }
                for (call, outcome) in board.placeHeld() { calls[call].outcome = outcome }
                for case let (task, .run(w)) in calls { start(task, on: w) }
                ready.removeAll { started.contains($0.task) }
            }
            guard let first = ends.pop() else { break }  // nothing runs and nothing can start: a broken plan
            now = first.time
            var next: End? = first
            while let done = next {  // every task that ends now, before the next decision
                for d in dependents[done.task] {
                    waiting[d] -= 1
                    if waiting[d] == 0 { ready.append((d, now)) }
                }
                next = ends.min.map { $0.time <= now } == true ? ends.pop() : nil
            }
        }
        return Outcome(spans: spans, makespan: spans.map(\.end).max() ?? 0, lowerBound: lowerBound)
    }

    private struct End: Comparable {
        var time: Double
        var task: Int
        static func < (a: End, b: End) -> Bool { (a.time, a.task) < (b.time, b.task) }
    }
}
