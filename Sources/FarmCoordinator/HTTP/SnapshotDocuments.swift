import FarmWire
import FlyingFox
import Foundation

/// The JSON of the loop's latest snapshot, encoded once per version however many clients read it.
final class SnapshotDocuments: @unchecked Sendable {
    private let slot: SnapshotSlot
    private let lock = NSLock()
    private var cached: (version: Int, jobs: Data, event: Data)?

    init(slot: SnapshotSlot) { self.slot = slot }

    /// The farm's numbers, as `/api/farm` and every event carry them.
    struct Farm: Codable, Sendable {
        var jobs: [String: Int]
        var tasksReady, tasksRunning, workers, workersDraining, slots, slotsBusy, workerCapacity: Int
        var dispatchedTotal, resultsTotal, filmsTotal, framesTotal, clientErrorsTotal: Int
        var refusedTotal: [String: Int]

        init(_ g: FarmGauges) {
            jobs = g.jobs
            tasksReady = g.tasksReady
            tasksRunning = g.tasksRunning
            workers = g.workers
            workersDraining = g.workersDraining
            slots = g.slots
            slotsBusy = g.slotsBusy
            workerCapacity = g.workerCapacity
            dispatchedTotal = g.dispatchedTotal
            resultsTotal = g.resultsTotal
            filmsTotal = g.filmsTotal
            framesTotal = g.framesTotal
            clientErrorsTotal = g.clientErrorsTotal
            refusedTotal = g.refusedTotal
        }
    }

    /// `GET /api/jobs`.
    struct Jobs: Codable, Sendable {
        var version: Int
        var time: Double
        var jobs: [JobSummary]
    }

    /// One `snapshot` event of `/api/events`: the jobs, the farm's numbers and the workers' totals.
    struct Event: Codable, Sendable {
        var version: Int
        var time: Double
        var jobs: [JobSummary]
        var farm: Farm
        var workers: WorkersTotals
    }

    struct WorkersTotals: Codable, Sendable {
        var connected: Int
        var total: Int
        var states: [String: Int]
    }

    /// The latest snapshot, or a 503 before the loop published one.
    func latest() throws -> FarmSnapshot {
        guard let s = slot.snapshot else {
            throw APIError(.serviceUnavailable, "the coordinator has not published the farm's state yet; try again")
        }
        return s
    }

    /// The encoded listing and event of the latest snapshot.
    func encoded() throws -> (version: Int, jobs: Data, event: Data) {
        let s = try latest()
        if let c = lock.withLock({ cached }), c.version == s.version { return c }
        let jobs = WireJSON.encode(Jobs(version: s.version, time: s.time, jobs: s.jobs))
        let totals = WorkersTotals(connected: s.workers.connected ?? 0,
                                   total: s.workers.total ?? s.workers.workers.count, states: s.workers.states ?? [:])
        let event = WireJSON.encode(Event(version: s.version, time: s.time, jobs: s.jobs, farm: Farm(s.gauges),
                                          workers: totals))
        let c = (s.version, jobs, event)
        lock.withLock { cached = c }
        return c
    }

    func jobsResponse() throws -> HTTPResponse {
        HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: try encoded().jobs)
    }
}
