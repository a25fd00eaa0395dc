import FarmCore
import FarmStore
import Foundation

/// One dispatch's placement: the workers that take tasks on a ``PlacementBoard``.
struct Placer {
    var board: PlacementBoard<String>
    let sessions: [WorkerSession]
    /// The task of each `board.place` call, in order.
    private var calls: [ReadyTask] = []

    init(board: PlacementBoard<String>, sessions: [WorkerSession]) {
        self.board = board
        self.sessions = sessions
    }

    /// The session `t` starts on now, or nil: no worker may run it, or it waits for a faster one.
    mutating func place(_ t: ReadyTask, work: Double, job: JobContext, excluded: Set<String>, speeds: inout SpeedBook)
        -> WorkerSession? {
        let pixels = Double(job.spec.output.width * job.spec.output.height)
        let task = PlacementTask(work: work, rank: max(work, Double(t.remaining) * pixels))
        let sessions = self.sessions
        calls.append(t)
        let outcome = board.place(task, group: t.task.job) { i in
            let s = sessions[i]
            guard s.fits(job.spec, geometry: job.plan.geometry), !excluded.contains(s.id) else { return nil }
            return speeds.speed(worker: s.id, device: s.hello.device, engine: job.spec.model.engine)
        }
        guard case .run(let w) = outcome else { return nil }
        return sessions[w]
    }

    /// The second and third passes (``PlacementBoard/placeHeld()``): waiting tasks that start now after all, and
    /// tasks `place` started that wait after all (their worker went to a task that feeds an idle slower worker).
    mutating func placeHeld() -> (start: [(task: ReadyTask, session: WorkerSession)], hold: [ReadyTask]) {
        var start: [(task: ReadyTask, session: WorkerSession)] = []
        var hold: [ReadyTask] = []
        for (call, outcome) in board.placeHeld() {
            if case .run(let w) = outcome {
                start.append((calls[call], sessions[w]))
            } else {
                hold.append(calls[call])
            }
        }
        return (start, hold)
    }
}

extension Coordinator {
    /// The board for one dispatch: every worker that takes tasks, each slot free now or at its task's expected end.
    func placer(now: Double) throws -> Placer {
        if scheduling.started.count > 2 * leases.count + 64 {  // attempts that failed or were lost
            scheduling.started = scheduling.started.filter { leases[$0.key]?.attempt == $0.value.attempt }
        }
        // Workers with a free slot, and busy ones (a task may wait for a faster busy worker); draining ones take none.
        let list = sessions.all.filter { !$0.draining }
        let workers = list.map { s in
            var ends = s.leases.keys.map { expectedEnd($0, now: now) }.sorted()
            ends.removeFirst(max(0, ends.count - s.hello.slots))  // more leases than slots: a slot frees later
            let downstream = s.leases.keys.reduce(0.0) { sum, key in
                sum + (scheduling.started[key].flatMap { leases[key]?.attempt == $0.attempt ? $0.after : nil } ?? 0)
            }
            let free = Array(repeating: now, count: max(0, s.hello.slots - ends.count))
            return PlacementWorker(id: s.id, freeAt: ends + free, downstream: downstream)
        }
        var backlog = 0.0
        for job in jobIndex.contexts.keys { backlog += try remainingWork(job) }
        for (key, s) in scheduling.started where leases[key]?.attempt == s.attempt { backlog -= s.work }
        return Placer(board: PlacementBoard(workers: workers, now: now, backlog: max(0, backlog)), sessions: list)
    }

    /// When a running task is expected to end: its start plus its work at the speed known when it started; one that
    /// overran is expected a quarter of that later; one started before this process (or unknown) never, so nothing
    /// waits for it.
    private func expectedEnd(_ key: TaskKey, now: Double) -> Double {
        guard let s = scheduling.started[key], leases[key]?.attempt == s.attempt else { return .infinity }
        return max(s.at + s.seconds, now + s.seconds / 4)
    }

    /// A task's work units: its generated frames (an anchor pass: its anchors) × the film's pixels.
    func work(of key: TaskKey, job: JobContext) -> Double { units(of: key, job: job).work }

    /// A task's work units, and those on the longest path behind it.
    private func units(of key: TaskKey, job: JobContext) -> (work: Double, after: Double) {
        if let u = scheduling.tasks[key.job]?[key.key] { return u }
        let pixels = Double(job.spec.output.width * job.spec.output.height)
        let work = job.plan.work, path = job.plan.remainingPath
        let all = work.mapValues { _ in (work: 0.0, after: 0.0) }.merging(work.map { id, w in
            (id, (work: Double(w) * pixels, after: Double(max(0, (path[id] ?? w) - w)) * pixels))
        }) { $1 }
        scheduling.tasks[key.job] = all
        return all[key.key] ?? (0, 0)
    }

    /// Work units of a loaded job's unfinished tasks, counted from the store once, then kept up to date.
    private func remainingWork(_ job: String) throws -> Double {
        if let r = scheduling.remaining[job] { return r }
        guard let c = jobIndex.contexts[job] else { return 0 }
        let pixels = Double(c.spec.output.width * c.spec.output.height)
        let r = try store.tasks(job: job).filter { $0.state != "done" }.reduce(0) { $0 + Double($1.frames) * pixels }
        scheduling.remaining[job] = r
        return r
    }

    /// Remembers an attempt handed to `session` now, with the time it is expected to take there.
    func started(_ key: TaskKey, attempt: Int, on session: WorkerSession, now: Double) {
        guard let job = jobIndex.contexts[key.job] else { return }
        let (work, after) = units(of: key, job: job)
        let speed = scheduling.speeds.speed(worker: session.id, device: session.hello.device,
                                            engine: job.spec.model.engine)
        scheduling.started[key] = .init(attempt: attempt, at: now, work: work, after: after,
                                        seconds: work / max(speed, 1e-9))
    }

    /// Learns the worker's speed from a finished attempt and counts its work as done.
    func finished(_ key: TaskKey, attempt: Int, by session: WorkerSession) {
        guard let s = scheduling.started.removeValue(forKey: key), s.attempt == attempt else { return }
        if let job = jobIndex.contexts[key.job] {
            scheduling.speeds.record(worker: session.id, device: session.hello.device, engine: job.spec.model.engine,
                                     work: s.work, seconds: Self.clock - s.at)
        }
        if let r = scheduling.remaining[key.job] { scheduling.remaining[key.job] = max(0, r - s.work) }
    }
}
