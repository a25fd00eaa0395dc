import FarmStore
import Foundation

/// The loop's work besides messages: recovery at start, and what every iteration does (``Coordinator/run()``).
extension Coordinator {
    /// Restart: running tasks go back to the queue, jobs that were assembling assemble again.
    func recover() throws {
        let requeued = try store.recoverAfterRestart(now: Self.wall)
        disabledWorkers = try store.disabledWorkers()
        let swept = try store.sweepArtifacts()
        if swept > 0 { log("removed \(swept) artifact files nothing refers to") }
        for t in try store.readyTasks() { queue.push(t) }
        // A film in progress died with the last process: built again from the segments its job had finished, off the
        // loop (told with the first iteration's notices), from one read of them all.
        let finished = try store.finishedSegmentsOfUnfinishedJobs()
        for job in try store.jobs() {
            switch job.state {
            case .assembling: assembly.submit(job.id)
            case .queued, .running:
                if let parts = finished[job.id] { assemblyNotices.append(.resume(job: job, parts: parts)) }
            default: break
            }
        }
        if requeued > 0 { log("recovered: \(requeued) running tasks back in the queue") }
    }

    /// Work done every loop iteration: finished assemblies, liveness, dispatch, buffered progress.
    func tick(answering: Bool) throws {
        for done in assembly.finished() { finishAssembly(done) }
        let now = Self.clock
        // Each worker's turn comes once every `beatMillis`, spread evenly: a worker only needs to hear that the
        // coordinator lives (the welcome tells it the period; it waits 2.5 periods before it even says so), and on a
        // large farm these sends are most of the coordinator's cost (each is a write on its own TCP connection).
        let period = Double(config.beatMillis) / 1000
        for s in sessions.heartbeatsDue(now: now, period: period) { outbox.append((s.identity, Self.heartbeatFrames)) }
        // Deadlines are checked when they fall due (this loop wakes at least every 20 ms), not on a heartbeat tick, and
        // silence counts only up to when the loop last caught up with what workers sent.
        let limit = Double(config.deadAfterMillis) / 1000
        liveness.resumed(at: now, after: now - iterationStart, limit: limit)
        if let upTo = liveness.reapTime(now: now), let due = sessions.nextDeadline(limit: limit), upTo > due {
            reapSilentWorkers(now: upTo)
        }
        if let notice = liveness.behindNotice(now: now, limit: limit) { log(notice) }
        if dispatchDue(now: now), !(answering && now - lastDispatch < 0.05) {
            lastDispatch = now
            try dispatchReady()
        }
        let progress = leases.takeProgress()
        if !progress.isEmpty {
            try store.progress(progress)
        }
    }
}
