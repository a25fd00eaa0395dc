import FarmCore
import FarmStore
import FarmWire
import Foundation

/// A job id or id prefix that names no job, or more than one.
struct JobLookupError: Error, CustomStringConvertible, Equatable {
    var query: String
    /// The jobs the prefix matches (empty: none; at most ``Coordinator/prefixCandidates``).
    var candidates: [String]

    var description: String {
        if candidates.isEmpty { return "no job \(query)" }
        let more = candidates.count >= Coordinator.prefixCandidates ? ", …" : ""
        return "job id prefix \(query) matches \(candidates.count)\(more.isEmpty ? "" : "+") jobs: "
            + candidates.prefix(Coordinator.prefixCandidates - 1).joined(separator: ", ") + more
            + " (give more characters)"
    }
}

/// A worker id the farm has not seen.
struct WorkerLookupError: Error, CustomStringConvertible, Equatable {
    var id: String
    var description: String { "no worker \(id)" }
}

extension Coordinator {
    /// How many candidates an ambiguous prefix lists.
    static let prefixCandidates = 11

    /// The job a client names by its id or by a prefix of it that only one job's id starts with.
    /// - Throws: ``JobLookupError`` when none or several match.
    func resolveJob(_ query: String?) throws -> JobRecord {
        guard let query, !query.isEmpty, query.utf8.count <= 256 else {
            throw JobLookupError(query: String((query ?? "(none)").prefix(64)), candidates: [])
        }
        if let job = try store.job(query) { return job }
        let ids = try store.jobIds(prefix: query, limit: Self.prefixCandidates)
        guard ids.count == 1, let only = ids.first, let job = try store.job(only) else {
            throw JobLookupError(query: query, candidates: ids)
        }
        return job
    }

    /// Changes an unfinished job's priority; its queued tasks move at once.
    func reprioritized(_ query: String?, priority: Int) throws -> JobSummary {
        let job = try resolveJob(query)
        guard !job.state.isFinished else {
            throw WireError(.invalid,
                            "job \(job.id) is \(job.state.rawValue); only an unfinished job's priority changes")
        }
        try store.setPriority(job: job.id, priority: priority)
        jobIndex.priorities[job.id] = priority
        queue.reprioritize(job: job.id, priority: priority)
        log("job \(job.id): priority \(job.priority) → \(priority)")
        guard let updated = try store.job(job.id) else { throw JobLookupError(query: job.id, candidates: []) }
        return try summary(updated)
    }

    /// Runs the requests the HTTP side queued (inside the iteration's transaction); their answers wait in
    /// `replies` until it committed.
    func runCommands() throws {
        let now = Self.clock
        for entry in dashboard.inbox.take() where now <= entry.deadline {  // a request past its deadline has no asker
            replies.append(try entry.run(self))
            if entry.changes { snapshotSchedule.forced = true }
        }
        // Progress the iteration heard changes what the dashboard shows (it is written to the store in `tick`).
        if leases.hasProgress { snapshotSchedule.progressed = true }
    }

    /// The dashboard's snapshot when one is wanted and due (inside the iteration's transaction, reading through its
    /// connection); ``publishAndReply(_:)`` publishes it once the transaction committed.
    func takeSnapshotIfDue() -> FarmSnapshot? {
        let now = Self.clock
        guard dashboard.snapshots.isWanted(now: now) else { return nil }
        let g = gauges
        var fingerprint = [g.dispatchedTotal, g.resultsTotal, g.filmsTotal, g.framesTotal, g.tasksReady, g.tasksRunning,
                           g.workers, g.workersDraining, g.slots, g.slotsBusy, g.clientErrorsTotal]
        fingerprint += JobState.allCases.map { g.jobs[$0.rawValue] ?? 0 }
        let elapsed = now - snapshotSchedule.lastPublished
        let changed = fingerprint != snapshotSchedule.lastFingerprint || snapshotSchedule.progressed
        guard snapshotSchedule.forced || (changed && elapsed >= snapshotSchedule.interval)
                || elapsed >= SnapshotSchedule.maximumInterval else { return nil }
        // A failed read keeps the last snapshot: the dashboard must not stop the loop.
        guard let jobs = try? statusReport(JobQuery(job: nil)).jobs,
              let workers = try? workersPage(JobQuery(job: nil)) else { return nil }
        let cost = Self.clock - now
        snapshotSchedule.interval = min(SnapshotSchedule.maximumInterval,
                                        max(SnapshotSchedule.minimumInterval, 10 * cost))
        snapshotSchedule.version += 1
        snapshotSchedule.lastPublished = now
        snapshotSchedule.lastFingerprint = fingerprint
        snapshotSchedule.forced = false
        snapshotSchedule.progressed = false
        return FarmSnapshot(version: snapshotSchedule.version, time: Self.wall, jobs: jobs, workers: workers,
                            gauges: g, running: runningAttempts())
    }

    /// Publishes the iteration's snapshot, if it took one, then hands the requests' answers back (in that order, so
    /// a client that submitted finds its job in the next listing). After the commit, on the loop's thread.
    func publishAndReply(_ snapshot: FarmSnapshot?) {
        if let snapshot { dashboard.snapshots.publish(snapshot, now: Self.clock) }
        for reply in replies { reply() }
        replies.removeAll()
    }

    /// The open attempts, from the leases (O(running tasks)); a lease's start is when this coordinator granted it.
    private func runningAttempts() -> [AttemptTiming] {
        let wall = Self.wall, clock = Self.clock
        return leases.running.compactMap { key, holder in
            guard let session = sessions[holder.identity] else { return nil }
            let at = session.leasedAt[key] ?? clock
            return AttemptTiming(job: key.job, key: key.key, number: holder.attempt, worker: session.id,
                                 startedAt: wall - (clock - at), endedAt: nil, outcome: nil, error: nil)
        }
    }
}

/// One job in full, as `GET /api/jobs/{id}` answers.
public struct JobDetail: Codable, Sendable {
    public var job: JobSummary
    /// Shot ids in order; a task's `shot` indexes them.
    public var shots: [String]
    public var tasks: [TaskSummary]
    public var attempts: [AttemptTiming]
    /// Wall-clock seconds when it was read (running attempts' durations count to it).
    public var now: Double
}

/// The farm's recent attempts, as `GET /api/timeline` answers.
public struct Timeline: Codable, Sendable {
    public var since: Double
    public var now: Double
    public var attempts: [AttemptTiming]
}

/// The HTTP side's two doors into the loop: the inbox for requests and the slot of the latest snapshot.
public struct DashboardLink: Sendable {
    public let inbox = CommandInbox()
    public let snapshots = SnapshotSlot()
    public init() {}
}

extension Coordinator {
    /// What the dashboard's player can play of a job: its film once done, else the contiguous prefix of finished
    /// segments.
    /// - Throws: `WireError` (`invalid`) while no segment at the film's start has finished.
    func previewSource(_ query: String?) throws -> PreviewSource {
        let job = try resolveJob(query)
        if job.state == .done, let film = job.film { return .film(job: job.id, file: store.artifacts.url(film)) }
        guard let spec = jobIndex.contexts[job.id]?.spec ?? statusSpec(job) else {
            throw WireError(.invalid, "job \(job.id)'s storyboard cannot be read")
        }
        let run = try finishedRun(job: job.id)
        guard !run.parts.isEmpty else {
            throw WireError(.invalid,
                            "job \(job.id) is \(job.state.rawValue); no segment at its start has finished yet")
        }
        return .prefix(job: job.id, format: spec.output, parts: run.parts, total: run.segments)
    }

    /// `job`'s segments in film order (shot `shot`'s alone, when given): how many there are, how many have finished,
    /// and the chunk and PCM artifacts of the finished ones from the first up to the first that has not.
    func finishedRun(job: String, shot: Int? = nil) throws -> (segments: Int, finished: Int, parts: [JobFilm.Part]) {
        let outputs = try store.outputs(job: job)
        let segments = try store.tasks(job: job).filter { $0.kind == "segment" && (shot == nil || $0.shot == shot) }
            .sorted { $0.position < $1.position }
        var parts: [JobFilm.Part] = []
        for t in segments {
            guard t.state == "done", let chunk = outputs[t.key]?["chunk"], let audio = outputs[t.key]?["audio"] else {
                break
            }
            parts.append((t.key, chunk, audio))
        }
        return (segments.count, segments.filter { $0.state == "done" }.count, parts)
    }
}

extension Coordinator {
    /// Stops (or resumes) giving tasks to a connected worker: its running tasks finish; it stays connected, shown as
    /// `disabled`, and stays disabled across its reconnects and this coordinator's restarts until enabled.
    /// - Throws: ``WorkerLookupError`` for a worker that is neither connected nor disabled.
    func setWorker(_ id: String, enabled: Bool) throws -> WorkerState {
        let live = sessions.session(id: id)
        guard live != nil || disabledWorkers.contains(id) else { throw WorkerLookupError(id: String(id.prefix(64))) }
        try store.setDisabled(worker: id, !enabled, now: Self.wall)
        if enabled {
            disabledWorkers.remove(id)
            if live?.leaving == false { live?.stopDraining() }
        } else {
            disabledWorkers.insert(id)
            live?.startDraining()
        }
        log("worker \(id) \(enabled ? "enabled" : "disabled") by a client")
        let state = !enabled ? "disabled" : live.map { $0.draining ? "draining" : "alive" } ?? "disconnected"
        return WorkerState(id: id, state: state, busy: live?.leases.count ?? 0)
    }
}

extension Coordinator {
    /// Asks a connected worker to leave (`drain`): it gets no new task, finishes those it runs, says bye and exits.
    /// A worker too old to know the message stays connected, taking no task (as if disabled) until it reconnects.
    /// - Throws: ``WorkerLookupError`` for a worker that is not connected.
    func drainWorker(_ id: String) throws -> WorkerState {
        guard let live = sessions.session(id: id) else { throw WorkerLookupError(id: String(id.prefix(64))) }
        live.startLeaving()
        send(live.identity, WireMessage(.drain, Drain(reason: "drained by a client")))
        log("worker \(id) asked to leave by a client (\(live.leases.count) tasks running)")
        return WorkerState(id: id, state: "leaving", busy: live.leases.count)
    }
}


extension Coordinator {
    /// `set_priority` (the CLI's `reelfarm priority`): as the dashboard's priority change; the reply is the job's summary.
    func setPriority(_ p: JobPriority, sequence: UInt32, from identity: Data) throws {
        guard JobPriority.range.contains(p.priority) else {
            throw WireError(.invalid, "priority \(p.priority) is outside \(JobPriority.range.lowerBound)..."
                            + "\(JobPriority.range.upperBound)")
        }
        send(identity, WireMessage(.reply, try reprioritized(p.job, priority: p.priority), sequence: sequence))
    }

    /// `worker_control` (the CLI's `reelfarm drain`, `disable`, `enable`): as the dashboard's buttons.
    func workerControl(_ c: WorkerControl, sequence: UInt32, from identity: Data) throws {
        let state = switch c.action {
        case .drain: try drainWorker(c.worker)
        case .disable: try setWorker(c.worker, enabled: false)
        case .enable: try setWorker(c.worker, enabled: true)
        }
        send(identity, WireMessage(.reply, state, sequence: sequence))
    }
}
