import FarmCore
import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// Validates and plans a storyboard; a bad one is refused with every broken rule and nothing is queued.
    func submit(_ s: Submit, blobs: [Data], sequence: UInt32, from identity: Data) throws {
        send(identity, WireMessage(.reply, try submitted(s, blobs: blobs), sequence: sequence))
    }

    /// Validates, plans and queues a storyboard.
    /// - Throws: `SpecError` with every broken rule, or `WireError`; nothing is queued then.
    func submitted(_ s: Submit, blobs: [Data]) throws -> Submitted {
        let carried = try Self.assets(of: s, blobs: blobs)
        let base = s.baseDirectory.map { URL(fileURLWithPath: $0) }
        var spec = try JobSpec.parse(s.storyboard, source: s.source, baseDirectory: base, checkingFiles: false)
        if let draft = s.draft {
            if let problem = draft.problem(forSteps: spec.model.steps) { throw WireError(.invalid, "draft: \(problem)") }
            spec = spec.drafted(draft)
        }
        // A revision names the film's job it revises: the film (its first job) and the next revision number.
        var lineage: String?, revision = 1
        if let revised = s.revise {
            // An id or a unique prefix, like every other job argument.
            let record: JobRecord
            do { record = try resolveJob(revised) } catch let error as JobLookupError {
                throw WireError(.invalid, "--revise \(revised.prefix(64)): no such job (\(error))")
            }
            lineage = record.filmID
            revision = (try store.revisions(film: record.filmID).map(\.revision).max() ?? record.revision) + 1
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
        let job = try JobContext(spec: spec, geometry: geometry(for: spec.model, source: s.source), source: s.source,
                                 images: config.images(spec, files))
        let id = "j" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let engineVersion = engineVersion(for: spec.model)
        // Without a known engine identity nothing is keyed: such a job neither reuses nor is reused.
        let keys = engineVersion == nil ? [:] : ReuseKeys.keys(
            for: job, engineVersion: engineVersion, assets: Dictionary(assets.map { ($0.path, $0.hash) }, uniquingKeysWith: { a, _ in a }))
        let reuse = s.reuse == false || keys.isEmpty ? [:] : try reusableTasks(of: job, keys: keys)
        var remaining = job.plan.remainingPath
        if s.previewFirst == true {
            // Each shot's first segment, with what it waits for (a continued shot's start needs the end of the shot
            // before), goes ahead of the job's other tasks: the queue takes the longest remaining path first, and
            // these get the whole job's work added. Their order among themselves stays.
            let lift = job.plan.totalWork + 1
            let waitsFor = Dictionary(job.plan.tasks.map { ($0.id, $0.dependsOn) }, uniquingKeysWith: { a, _ in a })
            var seen = Set<Int>(), lifted = Set<String>()
            var pending = job.plan.segments.filter { seen.insert($0.shot).inserted }.map(\.id)
            while let t = pending.popLast() {
                if lifted.insert(t).inserted { pending += waitsFor[t] ?? [] }
            }
            for t in lifted { remaining[t, default: 0] += lift }
        }
        var tasks = job.plan.anchors.enumerated().map { i, a in
            NewTask(key: a.id, kind: "anchors", shot: a.shot, position: -job.plan.anchors.count + i, frames: 0,
                    dependsOn: a.dependsOn, remaining: remaining[a.id] ?? 0, reuseKey: keys[a.id], reuse: reuse[a.id])
        }
        for (i, seg) in job.plan.segments.enumerated() {
            tasks.append(NewTask(key: seg.id, kind: "segment", shot: seg.shot, position: i, frames: seg.own.count,
                                 dependsOn: seg.dependsOn, remaining: remaining[seg.id] ?? 0, reuseKey: keys[seg.id],
                                 reuse: reuse[seg.id]))
        }
        let ready = try store.insert(NewJob(id: id, title: spec.title, source: s.source, storyboard: s.storyboard,
                                            priority: s.priority, tasks: tasks, baseDirectory: s.baseDirectory,
                                            lineage: lineage, revision: revision, engineVersion: engineVersion,
                                            draft: s.draft.map { String(decoding: WireJSON.encode($0), as: UTF8.self) }),
                                     now: Self.wall)
        try store.addAssets(job: id, assets, now: Self.wall)
        try store.setGeometry(job: id, json: Self.encodeGeometry(job.plan.geometry))
        jobIndex.contexts[id] = job
        jobIndex.priorities[id] = s.priority
        jobIndex.keyedVersions[id] = .some(engineVersion)
        jobIndex.unfinished[id] = tasks.count - reuse.count
        for t in ready { queue.push(t) }
        // The film in progress takes the reused segments at once (in film order), so a preview starts with them.
        for (position, seg) in job.plan.segments.enumerated() {
            guard let r = reuse[seg.id], let chunk = r.outputs["chunk"], let audio = r.outputs["audio"] else { continue }
            jobIndex.outputHashes[id, default: [:]][seg.id] = r.outputs
            assemblyNotices.append(.segmentFinished(job: id, format: spec.output, position: position, key: seg.id,
                                                    chunk: chunk, audio: audio))
        }
        for a in job.plan.anchors { if let r = reuse[a.id] { jobIndex.outputHashes[id, default: [:]][a.id] = r.outputs } }
        if reuse.count == tasks.count {
            // Nothing to run: the film is assembled from the reused segments.
            jobIndex.unfinished[id] = nil
            try store.setJob(id, state: .assembling, now: Self.wall)
            assemblyNotices.append(.assemble(job: id))
        }
        log("job \(id) submitted: \"\(spec.title)\"\(s.draft.map { " (draft: \($0.steps) steps, \(spec.output.width)×\(spec.output.height))" } ?? ""), \(tasks.count) tasks (\(reuse.count) reused, \(tasks.count - reuse.count) to run), "
            + "\(job.plan.totalFrames) frames, priority \(s.priority)"
            + (lineage.map { ", revision \(revision) of film \($0)" } ?? ""))
        return Submitted(job: id, tasks: tasks.count, frames: job.plan.totalFrames, reused: reuse.count,
                         film: lineage ?? id, revision: revision)
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
        try summary(job, try store.jobTotals(job: job.id, firstStart: nil) ?? .empty)
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
                          runningSeconds: running, etaSeconds: eta, waiting: t.anyReady ? try waiting(job) : nil,
                          film: job.filmID, revision: job.revision)
    }

    /// A job's storyboard as `status` needs it, parsed once (a listing of a thousand jobs must not parse a thousand
    /// storyboards each time); bounded, as a cache.
    func statusSpec(_ job: JobRecord) -> JobSpec? {
        if let spec = jobIndex.statusSpecs[job.id] { return spec }
        guard let spec = try? job.plannedSpec() else { return nil }
        if jobIndex.statusSpecs.count >= 4_096 { jobIndex.statusSpecs.removeAll(keepingCapacity: true) }
        jobIndex.statusSpecs[job.id] = spec
        return spec
    }

    /// ``unplaceable(_:)``, kept while the connected workers stay the same (a listing of a thousand queued jobs asks
    /// for every one of them).
    private func waiting(_ job: JobRecord) throws -> String? {
        if let hit = jobIndex.waiting[job.id], hit.membership == sessions.membership { return hit.reason }
        let reason = try unplaceable(job)
        if jobIndex.waiting.count >= 16_384 { jobIndex.waiting.removeAll(keepingCapacity: true) }
        jobIndex.waiting[job.id] = (sessions.membership, reason)
        return reason
    }

    /// Why no connected worker can take the job's tasks, or `nil` when one can.
    private func unplaceable(_ job: JobRecord) throws -> String? {
        guard let spec = jobIndex.contexts[job.id]?.spec ?? statusSpec(job) else { return nil }
        let live = sessions.all.lazy.filter { !$0.draining }  // lazy: the usual answer is the first worker that fits
        let planned = jobIndex.contexts[job.id]?.plan.geometry
        guard !live.contains(where: { $0.fits(spec, geometry: planned) }) else { return nil }
        let engine = spec.model.engine
        let offering = live.filter { $0.hello.engines.contains(engine) }
        if !live.isEmpty, offering.isEmpty { return "no connected worker offers engine \(engine)" }
        if let planned, !offering.isEmpty, offering.allSatisfy({ $0.geometries[engine].map { $0 != planned } ?? false }) {
            return "the \(offering.count) connected workers running engine \(engine) declare another latent grid than the job was planned with"
        }
        let needs = ["engine \(engine) at \(spec.output.width)×\(spec.output.height)", spec.requires.summary]
            .filter { !$0.isEmpty }.joined(separator: ", ")
        if live.isEmpty, !sessions.isEmpty { return "every connected worker is draining or disabled" }
        return live.isEmpty ? "no worker is connected" : "none of the \(live.count) connected workers has \(needs)"
    }

    func status(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        send(identity, WireMessage(.reply, try statusReport(q), sequence: sequence))
    }

    /// All jobs with their totals, or one job (an id or a unique prefix) with its shots, tasks and attempts.
    func statusReport(_ q: JobQuery) throws -> StatusReport {
        let report: StatusReport
        if q.job != nil {
            let job = try resolveJob(q.job)
            let id = job.id
            let spec = try? JobSpec.parse(job.storyboard, source: job.source)
            let reused = try store.reusedFrom(job: id)
            var summary = try summary(job)
            summary.reused = reused.count
            report = StatusReport(
                jobs: [summary], shots: spec?.shots.map(\.id),
                tasks: try store.tasks(job: id).map {
                    TaskSummary(key: $0.key, shot: $0.shot, state: $0.state, attempts: $0.attempts, worker: $0.worker,
                                step: $0.step, steps: $0.steps, frames: $0.frames, error: $0.error, reusedFrom: reused[$0.key])
                },
                attempts: try store.attempts(job: id).map { AttemptSummary(key: $0.key, number: $0.number, worker: $0.worker, outcome: $0.outcome) })
        } else {
            let (jobs, fresh) = try jobList.listing(store, now: Self.clock)
            let membership = sessions.membership
            if jobIndex.summaries.count > jobs.count + 1_024 {
                let listed = Set(jobs.map(\.job.id))
                jobIndex.summaries = jobIndex.summaries.filter { listed.contains($0.key) }
            }
            report = StatusReport(jobs: try jobs.map { job, totals in
                // A summary holds until its job changes or the workers do, unless its clock runs (a started,
                // unfinished job's time spent and left).
                if let fresh, !fresh.contains(job.id), let hit = jobIndex.summaries[job.id],
                   hit.membership == membership {
                    return hit.summary
                }
                let s = try summary(job, totals ?? .empty)
                let ticking = s.runningSeconds != nil && !job.state.isFinished
                jobIndex.summaries[job.id] = ticking ? nil : (membership, s)
                return s
            })
        }
        return report
    }

    func cancelJob(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        send(identity, WireMessage(.reply, try cancelled(q), sequence: sequence))
    }

    /// Cancels an unfinished job (an id or a unique prefix), stopping its running tasks.
    func cancelled(_ q: JobQuery) throws -> Cancelled {
        let job = try resolveJob(q.job)
        let id = job.id
        guard !job.state.isFinished else { throw WireError(.invalid, "job \(id) is already \(job.state.rawValue)") }
        let stopped = try stopJob(id, state: .cancelled, reason: "cancelled by a client")
        return Cancelled(job: id, stoppedTasks: stopped)
    }

    /// Runs a failed or cancelled job again from what it finished: done tasks stay done (never recomputed), the
    /// others start over with fresh failure counts, and workers excluded from the job may take it again.
    func retryJob(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        send(identity, WireMessage(.reply, try retried(q), sequence: sequence))
    }

    /// See ``retryJob(_:sequence:from:)``.
    func retried(_ q: JobQuery) throws -> Retried {
        let job = try resolveJob(q.job)
        let id = job.id
        guard job.state == .failed || job.state == .cancelled else {
            throw WireError(.invalid, "job \(id) is \(job.state.rawValue); only a failed or cancelled job can be retried")
        }
        // Finished tasks whose stored outputs are damaged or gone run again too (a job that failed in assembly for
        // that reason is mended by retry), however often that happened before.
        let damaged = try damagedOutputs(job: id)
        let retry = try store.retryJob(id, now: Self.wall)
        jobIndex.unfinished[id] = nil  // counted again from the store at the next completion
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
        log("job \(id) retried: \(requeued) tasks to run again")
        return Retried(job: id, requeuedTasks: requeued)
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
        send(identity, WireMessage(.reply, try deleted(q), sequence: sequence))
    }

    /// See ``deleteJob(_:sequence:from:)``.
    func deleted(_ q: JobQuery) throws -> Deleted {
        let job = try resolveJob(q.job)
        let id = job.id
        guard job.state.isFinished else {
            throw WireError(.invalid, "job \(id) is \(job.state.rawValue); cancel it before deleting it")
        }
        let hashes = try store.deleteJob(id)
        let bytes = hashes.reduce(0) { total, hash in
            let size = try? FileManager.default.attributesOfItem(atPath: store.artifacts.url(hash).path)[.size]
            return total + ((size as? NSNumber)?.intValue ?? 0)
        }
        afterCommit += hashes
        assemblyNotices.append(.forget(job: id))
        unload(id)
        log("job \(id) deleted: \(hashes.count) artifacts, \(bytes) bytes")
        return Deleted(job: id, removedArtifacts: hashes.count, freedBytes: bytes)
    }

    /// Sends one piece of a finished film; the client asks again from the next offset.
    func fetch(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        let (id, file) = try filmFile(q)
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        let total = Int(try handle.seekToEnd())
        let offset = max(0, min(q.offset ?? 0, total))
        try handle.seek(toOffset: UInt64(offset))
        let piece = try handle.read(upToCount: WireMessage.pieceBytes) ?? Data()
        send(identity, WireMessage(.filmPart, FilmPart(job: id, offset: offset, total: total), sequence: sequence, blobs: [piece]))
    }

    /// A done job's film (an id or a unique prefix): its id and the file.
    func filmFile(_ q: JobQuery) throws -> (job: String, file: URL) {
        let job = try resolveJob(q.job)
        guard job.state == .done, let film = job.film else {
            throw WireError(.invalid, "job \(job.id) is \(job.state.rawValue), its film is not ready")
        }
        return (job.id, store.artifacts.url(film))
    }

    /// A job's storyboard and the grid it was planned with, so a client can lay its film out as it was planned.
    func jobPlan(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        let job = try resolveJob(q.job)
        let id = job.id
        let geometry = (try store.geometry(job: id)).flatMap { try? Self.decodeGeometry($0) }.map(GeometryDocument.init)
        let draft = job.draft.flatMap { try? WireJSON.decoder.decode(DraftSettings.self, from: Data($0.utf8)) }
        send(identity, WireMessage(.reply, JobPlan(job: id, source: job.source, storyboard: job.storyboard,
                                                   baseDirectory: job.baseDirectory, geometry: geometry, draft: draft),
                                   sequence: sequence))
    }

    func workersReport(_ q: JobQuery, sequence: UInt32, from identity: Data) throws {
        send(identity, WireMessage(.reply, try workersPage(q), sequence: sequence))
    }

    /// One page of the workers (``WorkersReport/pageSize`` rows from `offset`), with the farm's totals: bounded at
    /// any farm size.
    func workersPage(_ q: JobQuery) throws -> WorkersReport {
        let now = Self.clock
        let offset = q.offset ?? 0
        guard offset >= 0 else { throw WireError(.badPayload, "workers: offset \(offset) is negative") }
        let (page, total) = try store.workers(offset: offset, limit: WorkersReport.pageSize)
        let rows = page.map { w in
            let live = sessions.session(id: w.id)
            // A row the store still calls alive without a session here is a worker this process has not heard from.
            let state = disabledWorkers.contains(w.id) ? "disabled"
                : live.map { $0.leaving ? "leaving" : $0.draining ? "draining" : "alive" }
                    ?? (w.state == "alive" ? "disconnected" : w.state)
            let running = live.map { $0.leases.keys.sorted().map { "\($0.job):\($0.key)" } } ?? []
            return WorkerSummary(id: w.id, name: w.name, state: state, engines: w.engines, device: w.device, slots: w.slots,
                                 busy: live?.leases.count ?? 0, tags: w.tags, secondsSinceSeen: live.map { now - $0.lastSeen } ?? -1,
                                 memoryBytes: w.memory, tasks: running.isEmpty ? nil : running)
        }
        return WorkersReport(
            workers: rows, refused: refusedCounts, offset: offset, total: total, connected: sessions.count,
            states: try store.workerStates(), capacity: workerCapacity)
    }
}
