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

    /// The latest snapshot. When it is stale (the loop publishes only while someone reads), waits up to 2 s for a
    /// fresh one; a 503 when there is none at all by then.
    func latest() async throws -> FarmSnapshot {
        let start = Coordinator.clock
        while true {
            let now = Coordinator.clock
            if let fresh = slot.read(now: now) { return fresh }
            if now - start > 2 { break }  // the loop is busy: the last one will do
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let s = slot.snapshot else {
            throw APIError(.serviceUnavailable, "the coordinator has not published the farm's state yet; try again")
        }
        return s
    }

    /// Each job's JSON with the summary it was encoded from: a snapshot re-encodes only the jobs that changed (on a
    /// farm of a thousand queued jobs, a few), and the listing and the event are spliced from these.
    private var perJob: [String: (summary: JobSummary, json: Data)] = [:]
    /// Held while encoding a snapshot, so that readers arriving together encode it once.
    private let encoding = NSLock()

    /// The encoded listing and event of the latest snapshot.
    func encoded() async throws -> (version: Int, jobs: Data, event: Data) {
        let s = try await latest()
        return encoded(s)
    }

    func encoded(_ s: FarmSnapshot) -> (version: Int, jobs: Data, event: Data) {
        if let c = lock.withLock({ cached }), c.version == s.version { return c }
        encoding.lock()
        defer { encoding.unlock() }
        if let c = lock.withLock({ cached }), c.version == s.version { return c }
        let jobs = jobArray(s.jobs, refresh: true)
        let listing = Self.splice(jobs: jobs, into: WireJSON.encode(Stamp(version: s.version, time: s.time)))
        let totals = WorkersTotals(connected: s.workers.connected ?? 0,
                                   total: s.workers.total ?? s.workers.workers.count, states: s.workers.states ?? [:])
        let event = Self.splice(jobs: jobs, into: WireJSON.encode(EventRest(version: s.version, time: s.time,
                                                                           farm: Farm(s.gauges), workers: totals)))
        let c = (s.version, listing, event)
        lock.withLock { cached = c }
        return c
    }

    /// `GET /api/jobs`: every job, or with `state`, `offset` or `limit` one page of them (`total` counts the jobs
    /// the filter admits).
    func jobsResponse(state: String? = nil, offset: Int = 0, limit: Int? = nil) async throws -> HTTPResponse {
        let body: Data
        if state == nil, offset == 0, limit == nil {
            body = try await encoded().jobs
        } else {
            let s = try await latest()
            let admitted = state.map { want in s.jobs.filter { $0.state == want } } ?? s.jobs
            let page = Array(admitted.dropFirst(offset).prefix(limit ?? admitted.count))
            _ = encoded(s)  // fills the per-job cache for this version
            let jobs = encoding.withLock { jobArray(page, refresh: false) }
            body = Self.splice(jobs: jobs, into: WireJSON.encode(Page(version: s.version, time: s.time,
                                                                        total: admitted.count, offset: offset)))
        }
        return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: body)
    }

    /// `[job, job, …]` from the per-job cache, encoding what changed. With `refresh`, `jobs` is the whole snapshot
    /// and jobs no longer in it leave the cache. Call with `encoding` held.
    private func jobArray(_ jobs: [JobSummary], refresh: Bool) -> Data {
        var out = Data("[".utf8)
        var seen: Set<String> = []
        if refresh { seen.reserveCapacity(jobs.count) }
        for (i, job) in jobs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if let hit = perJob[job.id], hit.summary == job {
                out.append(hit.json)
            } else {
                let json = WireJSON.encode(job)
                perJob[job.id] = (job, json)
                out.append(json)
            }
            if refresh { seen.insert(job.id) }
        }
        if refresh, perJob.count > seen.count { perJob = perJob.filter { seen.contains($0.key) } }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `{"jobs":JOBS,` followed by `object` without its opening brace.
    private static func splice(jobs: Data, into object: Data) -> Data {
        var out = Data(#"{"jobs":"#.utf8)
        out.append(jobs)
        if object.count > 2 {
            out.append(UInt8(ascii: ","))
            out.append(object.dropFirst())
        } else {
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    private struct Stamp: Encodable {
        var version: Int
        var time: Double
    }

    private struct Page: Encodable {
        var version: Int
        var time: Double
        var total: Int
        var offset: Int
    }

    private struct EventRest: Encodable {
        var version: Int
        var time: Double
        var farm: Farm
        var workers: WorkersTotals
    }
}
