import FarmCore
import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// Validates and plans a storyboard; a bad one is refused with every broken rule and nothing is queued.
    func submit(_ s: Submit, blobs: [Data], sequence: UInt32, from identity: Data) throws {
        let spec: JobSpec
        let job: JobContext
        let carried = try Self.assets(of: s, blobs: blobs)
        do {
            spec = try JobSpec.parse(s.storyboard, source: s.source, baseDirectory: s.baseDirectory.map { URL(fileURLWithPath: $0) },
                                     checkingFiles: false)
        } catch {
            refuse(identity, WireError(.invalid, error.description), sequence: sequence, issues: error.issues.map(\.description))
            return
        }
        // Every image the storyboard names is kept by the coordinator: from the submission (or, from an older client
        // that sends none, read once now); nothing later reads the submitter's files.
        var assets: [(path: String, hash: String, size: Int)] = []
        var files: [String: URL] = [:]
        for path in spec.imagePaths where files[path] == nil {
            let data: Data
            if let d = carried?[path] {
                data = d
            } else if carried != nil {
                throw WireError(.invalid, "the storyboard names image \(path) but the submission does not carry it")
            } else {
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw WireError(.invalid, "image \(path) cannot be read on the coordinator's machine (submit with a "
                                    + "client that uploads images): \(error.localizedDescription)")
                }
            }
            let hash = try store.artifacts.put(data)
            assets.append((path, hash, data.count))
            files[path] = store.artifacts.url(hash)
        }
        do {
            job = try JobContext(spec: spec, geometry: geometry(for: spec.model, source: s.source), source: s.source,
                                 images: config.images(spec, files))
        } catch {
            refuse(identity, WireError(.invalid, error.description), sequence: sequence, issues: error.issues.map(\.description))
            return
        }
        let id = "j" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let remaining = job.plan.remainingPath
        var tasks = job.plan.anchors.enumerated().map { i, a in
            NewTask(key: a.id, kind: "anchors", shot: a.shot, position: -job.plan.anchors.count + i, frames: 0,
                    dependsOn: a.dependsOn, remaining: remaining[a.id] ?? 0)
        }
        for (i, seg) in job.plan.segments.enumerated() {
            tasks.append(NewTask(key: seg.id, kind: "segment", shot: seg.shot, position: i, frames: seg.own.count,
                                 dependsOn: seg.dependsOn, remaining: remaining[seg.id] ?? 0))
        }
        let ready = try store.insert(NewJob(id: id, title: spec.title, source: s.source, storyboard: s.storyboard,
                                            priority: s.priority, tasks: tasks, baseDirectory: s.baseDirectory), now: Self.wall)
        try store.addAssets(job: id, assets, now: Self.wall)
        try store.setGeometry(job: id, json: Self.encodeGeometry(job.plan.geometry))
        contexts[id] = job
        priorities[id] = s.priority
        unfinished[id] = tasks.count
        for t in ready { queue.push(t) }
        send(identity, WireMessage(.reply, Submitted(job: id, tasks: tasks.count, frames: job.plan.totalFrames), sequence: sequence))
        log("job \(id) submitted: \"\(spec.title)\", \(tasks.count) tasks, \(job.plan.totalFrames) frames, priority \(s.priority)")
    }

    /// The images a submission carries, path → bytes, each checked against its digest; nil when it carries none
    /// (an older client).
    static func assets(of s: Submit, blobs: [Data]) throws -> [String: Data]? {
        guard let refs = s.assets else {
            guard blobs.isEmpty else { throw WireError(.badPayload, "submit carries \(blobs.count) blobs but lists no assets") }
            return nil
        }
        guard refs.count == blobs.count, Set(refs.map(\.blob)) == Set(blobs.indices) else {
            throw WireError(.badPayload, "submit lists \(refs.count) assets for \(blobs.count) blobs (each blob exactly once)")
        }
        var out: [String: Data] = [:]
        for a in refs {
            guard !a.path.isEmpty, a.path.utf8.count <= 4_096, out[a.path] == nil else {
                throw WireError(.badPayload, "asset path \"\(a.path.prefix(80))\" is empty, too long or listed twice")
            }
            let data = blobs[a.blob]
            guard Digest.sha256(data) == a.sha256.lowercased() else {
                throw WireError(.badPayload, "asset \(a.path) does not match its sha256 \(a.sha256.prefix(12))")
            }
            out[a.path] = data
        }
        return out
    }

    func summary(_ job: JobRecord) throws -> JobSummary {
        let tasks = try store.tasks(job: job.id)
        let totals = JobTotals(tasksTotal: tasks.count, tasksDone: tasks.filter { $0.state == "done" }.count,
                               framesTotal: tasks.reduce(0) { $0 + $1.frames },
                               framesDone: tasks.filter { $0.state == "done" }.reduce(0) { $0 + $1.frames },
                               anyReady: tasks.contains { $0.state == "ready" }, firstStart: try store.firstStart(job: job.id))
        return try summary(job, totals)
    }

    /// A job's summary from its totals (``FarmStore/jobTotals()`` for a listing of all of them).
    func summary(_ job: JobRecord, _ t: JobTotals) throws -> JobSummary {
        let running = t.firstStart.map { max(0, (job.finishedAt ?? Self.wall) - $0) }
        let eta = job.state.isFinished ? nil : running.flatMap {
            JobSummary.eta(runningSeconds: $0, framesDone: t.framesDone, framesTotal: t.framesTotal)
        }
        return JobSummary(id: job.id, title: job.title, state: job.state.rawValue, priority: job.priority,
                          tasksDone: t.tasksDone, tasksTotal: t.tasksTotal,
                          framesDone: t.framesDone, framesTotal: t.framesTotal, error: job.error, filmBytes: job.filmSize,
                          runningSeconds: running, etaSeconds: eta, waiting: t.anyReady ? try unplaceable(job) : nil)
    }

    /// A job's storyboard as `status` needs it, parsed once (a listing of a thousand jobs must not parse a thousand
    /// storyboards each time); bounded, as a cache.
    func statusSpec(_ job: JobRecord) -> JobSpec? {
        if let spec = statusSpecs[job.id] { return spec }
        guard let spec = try? JobSpec.parse(job.storyboard, source: job.source, checkingFiles: false) else { return nil }
        if statusSpecs.count >= 4_096 { statusSpecs.removeAll(keepingCapacity: true) }
        statusSpecs[job.id] = spec
        return spec
    }

    /// Why no connected worker can take the job's tasks, or `nil` when one can.
    private func unplaceable(_ job: JobRecord) throws -> String? {
        guard let spec = contexts[job.id]?.spec ?? statusSpec(job) else { return nil }
        let live = sessions.all.filter { !$0.draining }
        let planned = contexts[job.id]?.plan.geometry
        guard !live.contains(where: { $0.fits(spec, geometry: planned) }) else { return nil }
        let engine = spec.model.engine
        let offering = live.filter { $0.hello.engines.contains(engine) }
        if !live.isEmpty, offering.isEmpty { return "no connected worker offers engine \(engine)" }
        if let planned, !offering.isEmpty, offering.allSatisfy({ $0.geometries[engine].map { $0 != planned } ?? false }) {
            return "the \(offering.count) connected workers running engine \(engine) declare another latent grid than the job was planned with"
        }
        let needs = ["engine \(engine) at \(spec.output.width)×\(spec.output.height)", spec.requires.summary]
            .filter { !$0.isEmpty }.joined(separator: ", ")
        return live.isEmpty ? "no worker is connected" : "none of the \(live.count) connected workers has \(needs)"
    }

    func status(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        let report: StatusReport
        if let id = q.job {
            guard let job = try store.job(id) else { throw WireError(.invalid, "no job \(id)") }
            let spec = try? JobSpec.parse(job.storyboard, source: job.source)
            report = StatusReport(
                jobs: [try summary(job)], shots: spec?.shots.map(\.id),
                tasks: try store.tasks(job: id).map {
                    TaskSummary(key: $0.key, shot: $0.shot, state: $0.state, attempts: $0.attempts, worker: $0.worker,
                                step: $0.step, steps: $0.steps, frames: $0.frames, error: $0.error)
                },
                attempts: try store.attempts(job: id).map { AttemptSummary(key: $0.key, number: $0.number, worker: $0.worker, outcome: $0.outcome) })
        } else {
            let totals = try store.jobTotals()
            report = StatusReport(jobs: try store.jobs().map { job in
                try summary(job, totals[job.id] ?? JobTotals(tasksTotal: 0, tasksDone: 0, framesTotal: 0, framesDone: 0,
                                                             anyReady: false, firstStart: nil))
            })
        }
        send(identity, WireMessage(.reply, report, sequence: sequence))
    }

    func cancelJob(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        guard let id = q.job, let job = try store.job(id) else { throw WireError(.invalid, "no job \(q.job ?? "(none)")") }
        guard !job.state.isFinished else { throw WireError(.invalid, "job \(id) is already \(job.state.rawValue)") }
        let stopped = try stopJob(id, state: .cancelled, reason: "cancelled by a client")
        send(identity, WireMessage(.reply, Cancelled(job: id, stoppedTasks: stopped), sequence: sequence))
    }

    /// Runs a failed or cancelled job again from what it finished: done tasks stay done (never recomputed), the
    /// others start over with fresh failure counts, and workers excluded from the job may take it again.
    func retryJob(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        guard let id = q.job, let job = try store.job(id) else { throw WireError(.invalid, "no job \(q.job ?? "(none)")") }
        guard job.state == .failed || job.state == .cancelled else {
            throw WireError(.invalid, "job \(id) is \(job.state.rawValue); only a failed or cancelled job can be retried")
        }
        // Finished tasks whose stored outputs are damaged or gone run again too (a job that failed in assembly for
        // that reason is mended by retry), however often that happened before.
        let damaged = try damagedOutputs(job: id)
        let retry = try store.retryJob(id, now: Self.wall)
        unfinished[id] = nil  // counted again from the store at the next completion
        for t in retry.ready { queue.push(t) }
        var requeued = retry.requeued
        if !damaged.isEmpty, let again = try store.rerunDamaged(job: id, keys: Array(damaged.keys).sorted(), now: Self.wall,
                                                                limited: false) {
            for t in again { queue.push(t) }
            requeued += again.count
            afterCommit += damaged.values.flatMap { $0 }
            log("job \(id): running \(damaged.keys.sorted().joined(separator: ", ")) again for damaged outputs")
        }
        if requeued == 0 { assembly.submit(id) }  // every task was done: the assembly failed, run it again
        send(identity, WireMessage(.reply, Retried(job: id, requeuedTasks: requeued), sequence: sequence))
        log("job \(id) retried: \(requeued) tasks to run again")
    }

    /// Finished tasks of `job` whose stored outputs no longer match their hashes (or are gone): key → those hashes.
    func damagedOutputs(job: String) throws -> [String: [String]] {
        let done = Set(try store.tasks(job: job).filter { $0.state == "done" }.map(\.key))
        var out: [String: [String]] = [:]
        for (key, outputs) in try store.outputs(job: job) where done.contains(key) {
            for hash in outputs.values {
                let intact = (try? store.artifacts.read(hash)).map { ArtifactStore.digest($0) == hash } ?? false
                if !intact { out[key, default: []].append(hash) }
            }
        }
        return out
    }

    /// Deletes a job that has ended, with its film and the artifacts no other job refers to (files go once the
    /// deletion commits). A job still queued, running or assembling is refused: cancel it first.
    func deleteJob(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        guard let id = q.job, let job = try store.job(id) else { throw WireError(.invalid, "no job \(q.job ?? "(none)")") }
        guard job.state.isFinished else {
            throw WireError(.invalid, "job \(id) is \(job.state.rawValue); cancel it before deleting it")
        }
        let hashes = try store.deleteJob(id)
        let bytes = hashes.reduce(0) { total, hash in
            let size = try? FileManager.default.attributesOfItem(atPath: store.artifacts.url(hash).path)[.size]
            return total + ((size as? NSNumber)?.intValue ?? 0)
        }
        afterCommit += hashes
        unload(id)
        send(identity, WireMessage(.reply, Deleted(job: id, removedArtifacts: hashes.count, freedBytes: bytes),
                                   sequence: sequence))
        log("job \(id) deleted: \(hashes.count) artifacts, \(bytes) bytes")
    }

    /// Sends one piece of a finished film; the client asks again from the next offset.
    func fetch(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        guard let id = q.job, let job = try store.job(id) else { throw WireError(.invalid, "no job \(q.job ?? "(none)")") }
        guard job.state == .done, let film = job.film else {
            throw WireError(.invalid, "job \(id) is \(job.state.rawValue), its film is not ready")
        }
        let handle = try FileHandle(forReadingFrom: store.artifacts.url(film))
        defer { try? handle.close() }
        let total = Int(try handle.seekToEnd())
        let offset = max(0, min(q.offset ?? 0, total))
        try handle.seek(toOffset: UInt64(offset))
        let piece = try handle.read(upToCount: WireMessage.pieceBytes) ?? Data()
        send(identity, WireMessage(.filmPart, FilmPart(job: id, offset: offset, total: total), sequence: sequence, blobs: [piece]))
    }

    /// A job's storyboard and the grid it was planned with, so a client can lay its film out as it was planned.
    func jobPlan(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        guard let id = q.job, let job = try store.job(id) else { throw WireError(.invalid, "no job \(q.job ?? "(none)")") }
        let geometry = (try store.geometry(job: id)).flatMap { try? Self.decodeGeometry($0) }.map(GeometryDocument.init)
        send(identity, WireMessage(.reply, JobPlan(job: id, source: job.source, storyboard: job.storyboard,
                                                   baseDirectory: job.baseDirectory, geometry: geometry),
                                   sequence: sequence))
    }

    /// One page of the workers (``WorkersReport/pageSize`` rows from `offset`), with the farm's totals: bounded at
    /// any farm size.
    func workersReport(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        let now = Self.clock
        let offset = q.offset ?? 0
        guard offset >= 0 else { throw WireError(.badPayload, "workers: offset \(offset) is negative") }
        let (page, total) = try store.workers(offset: offset, limit: WorkersReport.pageSize)
        let rows = page.map { w in
            let live = sessions.session(id: w.id)
            // A row the store still calls alive without a session here is a worker this process has not heard from.
            let state = live.map { $0.draining ? "draining" : "alive" } ?? (w.state == "alive" ? "disconnected" : w.state)
            return WorkerSummary(id: w.id, name: w.name, state: state, engines: w.engines, device: w.device, slots: w.slots,
                                 busy: live?.leases.count ?? 0, tags: w.tags, secondsSinceSeen: live.map { now - $0.lastSeen } ?? -1)
        }
        send(identity, WireMessage(.reply, WorkersReport(
            workers: rows, refused: refusedCounts, offset: offset, total: total, connected: sessions.count,
            states: try store.workerStates(), capacity: workerCapacity), sequence: sequence))
    }
}
