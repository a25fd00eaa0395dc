import FarmStore
import Foundation

/// What the farm is doing, as the coordinator loop last published it: the numbers a monitoring system scrapes
/// (``MetricsService``). Gauges are current values; the `…Total` fields count since the coordinator started.
public struct FarmGauges: Sendable, Equatable {
    /// Jobs by state, every state listed (0 included), refreshed once a heartbeat interval.
    public var jobs: [String: Int] = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
    /// Tasks waiting in the ready queue for a worker.
    public var tasksReady = 0
    /// Leases out on workers.
    public var tasksRunning = 0
    /// Connected workers, and those of them draining.
    public var workers = 0
    public var workersDraining = 0
    /// Slots of connected workers, and the slots holding a lease.
    public var slots = 0
    public var slotsBusy = 0
    /// Leases handed out.
    public var dispatchedTotal = 0
    /// Tasks finished (results recorded).
    public var resultsTotal = 0
    /// Refused messages by reason.
    public var refusedTotal: [String: Int] = [:]
    /// Client requests refused for the user's mistake (unknown job, cancel of a finished job).
    public var clientErrorsTotal = 0
    /// Frames of finished segments.
    public var framesTotal = 0
    /// Films assembled.
    public var filmsTotal = 0
    /// Workers the coordinator's descriptor limit allows at once.
    public var workerCapacity = 0
    /// How long the loop's iterations kept it from reading the socket (see ``LoopStats/busy``).
    public var loopBusy = LoopHistogram()
    /// The store's log checkpoints, run off the loop (see `WALCheckpointer`).
    public var checkpoints = CheckpointStatistics()

    public init() {}
}

extension Coordinator {
    /// Brings the gauges up to date from the loop's own state (on the loop thread, before they are published).
    func refreshGauges(jobCounts: Bool) {
        // A failed count keeps the last one: monitoring must not stop the loop.
        if jobCounts, let counts = try? store.jobCounts() {
            var jobs = FarmGauges().jobs
            for (state, count) in counts { jobs[state] = count }
            gauges.jobs = jobs
        }
        gauges.tasksReady = queue.count
        gauges.tasksRunning = leases.count
        // Kept by the session table as sessions change: O(1) however many workers are connected.
        gauges.workers = sessions.count
        gauges.workersDraining = sessions.draining
        gauges.slots = sessions.slots
        gauges.slotsBusy = sessions.busySlots
        gauges.refusedTotal = refusedCounts
        gauges.loopBusy = stats.busy
        gauges.clientErrorsTotal = clientErrors
        gauges.checkpoints = store.checkpoints
    }
}
