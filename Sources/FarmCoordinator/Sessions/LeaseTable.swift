import FarmStore
import FarmWire
import Foundation

/// The leases the coordinator handed out: which worker holds each running task and at which attempt, the output
/// pieces received for each lease so far, and denoising progress not yet written to the store.
///
/// The store is the durable record of a lease (the task row's `attempts`, `worker`, `started_at`); this is what the
/// loop needs between messages, with one way in and one way out for each, so that nothing outlives its lease.
struct LeaseTable {
    /// The worker holding a task, and the attempt it holds.
    struct Holder {
        var attempt: Int
        var identity: Data
    }

    private var holders: [TaskKey: Holder] = [:]
    private var pieces: [Lease: [String: Data]] = [:]
    private var progress: [TaskKey: (attempt: Int, step: Int, steps: Int)] = [:]

    /// Running tasks.
    var count: Int { holders.count }

    /// Every running task and its holder (for the dashboard's snapshot).
    var running: [TaskKey: Holder] { holders }

    /// Who holds `task`, if it runs.
    subscript(task: TaskKey) -> Holder? { holders[task] }

    /// `task` runs as `attempt` on the worker with `identity` (a new lease, or one a reconnected worker still holds).
    mutating func grant(_ task: TaskKey, attempt: Int, to identity: Data) {
        holders[task] = Holder(attempt: attempt, identity: identity)
    }

    /// The lease on `task` ends (result, failure, loss, cancel): its holder is forgotten with the pieces received
    /// for it. Returns the holder it had.
    @discardableResult
    mutating func end(_ task: TaskKey) -> Holder? {
        guard let holder = holders.removeValue(forKey: task) else { return nil }
        pieces[Lease(task: task.id, attempt: holder.attempt)] = nil
        return holder
    }

    /// Bytes of `output` received for `lease` so far.
    func received(_ lease: Lease, _ output: String) -> Int { pieces[lease]?[output]?.count ?? 0 }

    /// Appends a piece of `output` for `lease` (in place: re-copying what came before would make many small pieces
    /// cost quadratic time).
    mutating func append(_ piece: Data, to output: String, of lease: Lease) {
        pieces[lease, default: [:]][output, default: Data()].append(piece)
    }

    /// The pieces received for `lease`, by output, handed over once (its result arrived).
    mutating func takePieces(of lease: Lease) -> [String: Data] { pieces.removeValue(forKey: lease) ?? [:] }

    /// Forgets the pieces of `lease` (its task failed or was lost).
    mutating func dropPieces(of lease: Lease) { pieces[lease] = nil }

    /// Denoising progress of `task`'s `attempt`, kept until ``takeProgress()`` (one write per iteration).
    mutating func noteProgress(_ task: TaskKey, attempt: Int, step: Int, steps: Int) {
        progress[task] = (attempt, step, steps)
    }

    /// Whether progress was noted since the last ``takeProgress()``.
    var hasProgress: Bool { !progress.isEmpty }

    /// Progress noted since the last call, for the store (which ignores an attempt that is no longer current).
    mutating func takeProgress() -> [(TaskKey, Int, Int, Int)] {
        defer { progress.removeAll(keepingCapacity: true) }
        return progress.map { ($0.key, $0.value.attempt, $0.value.step, $0.value.steps) }
    }
}
