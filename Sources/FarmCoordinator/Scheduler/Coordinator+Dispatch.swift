import FarmCore
import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// Whether a dispatch can place anything this iteration: a task became ready or a slot freed up since the last
    /// one — or, while tasks wait and slots are free, the farm changed or 0.2 s passed (a task held for a faster
    /// worker may fit a slower one by now). An idle farm of any size costs nothing here.
    func dispatchDue(now: Double) -> Bool {
        if queue.grew || sessions.slotsFreed { return true }
        guard !queue.isEmpty, !sessions.withFreeSlots.isEmpty else { return false }
        return !scheduling.canSkip([queue.count, leases.count, sessions.count], now: now)
    }

    /// Hands ready tasks to workers with free slots whose capabilities fit, best task first, in one transaction:
    /// each to the worker that finishes it earliest by its learned speed (``PlacementBoard``), a task held back when
    /// a faster worker frees up sooner than any free one would finish it.
    func dispatchReady() throws {
        queue.grew = false
        sessions.slotsFreed = false
        guard !queue.isEmpty, !sessions.withFreeSlots.isEmpty else { return }
        let farm = [queue.count, leases.count, sessions.count], clock = Self.clock
        var placement = try placer(now: clock)
        var batch: [(task: TaskKey, session: WorkerSession)] = []
        var skipped: [ReadyTask] = []
        var excluded: [String: Set<String>] = [:]
        var looked = 0
        while placement.board.hasFreeSlot, looked < 4_096, let t = queue.pop() {
            looked += 1
            guard let job = try context(t.task.job) else { continue }  // job gone: drop the stale entry
            let barred = try excluded[t.task.job]
                ?? store.excludedWorkers(job: t.task.job, threshold: config.excludeWorkerAfter)
            excluded[t.task.job] = barred
            // Earliest finish by speed; among equals, the worker with the most free slots (ties by id) keeps load even.
            guard let w = placement.place(t, work: work(of: t.task, job: job), job: job,
                                          excluded: barred, speeds: &scheduling.speeds) else {
                skipped.append(t)  // no worker fits, or a faster one finishes it sooner than any free one
                continue
            }
            batch.append((t.task, w))
        }
        // Waiting tasks a free slower worker finishes in time after all, and started ones that give their worker up.
        let late = placement.placeHeld()
        let held = Set(late.hold.map(\.task))
        batch.removeAll { held.contains($0.task) }
        batch += late.start.map { ($0.task.task, $0.session) }
        let moved = Set(late.start.map(\.task))
        // Tasks not looked at yet while slots are still free: look again next iteration.
        let more = looked == 4_096
        for t in skipped + late.hold where !moved.contains(t) { queue.push(t) }
        queue.grew = more
        scheduling.dispatched(batch.count, farm: farm, now: clock)
        guard !batch.isEmpty else { return }
        let numbers = try store.dispatch(batch.map { ($0.task, $0.session.id) }, now: Self.wall)
        let now = Self.clock
        for ((task, session), attempt) in zip(batch, numbers) where attempt > 0 {
            leases.grant(task, attempt: attempt, to: session.identity)
            gauges.dispatchedTotal += 1
            session.hold(task, attempt: attempt, at: now)
            started(task, attempt: attempt, on: session, now: now)
            do {
                send(session.identity, try assignment(task, attempt: attempt))
            } catch {
                try endLease(task, attempt: attempt, worker: session, outcome: "failed", reason: "cannot build task: \(error)")
            }
        }
    }

    /// The planned job, parsed once from the stored storyboard.
    func context(_ job: String) throws -> JobContext? {
        if let c = jobIndex.contexts[job] { return c }
        guard let record = try store.job(job), !record.state.isFinished else { return nil }
        let c: JobContext
        do {
            let spec = try record.plannedSpec()
            // Images come from the job's own stored copies, never from the paths the storyboard names.
            let files = try store.assets(job: job).mapValues { store.artifacts.url($0) }
            c = try JobContext(spec: spec, geometry: geometry(for: spec.model, job: job, source: record.source), source: record.source,
                               images: config.images(spec, files))
        } catch let error as SpecError {
            // A stored job that can no longer be planned (an engine this build lacks, a damaged image) fails alone,
            // with the reason; the farm goes on.
            try stopJob(job, state: .failed, reason: "cannot plan the job again: \(error)")
            return nil
        }
        jobIndex.contexts[job] = c
        jobIndex.priorities[job] = record.priority
        return c
    }

    /// The tasks that wait for `task`, from the job's plan (nil when the job is not loaded: the store knows).
    func dependents(of task: TaskKey) -> [String]? {
        if let d = jobIndex.dependents[task.job] { return d[task.key] ?? [] }
        guard let c = jobIndex.contexts[task.job] else { return nil }
        var map: [String: [String]] = [:]
        for a in c.plan.anchors { for d in a.dependsOn { map[d, default: []].append(a.id) } }
        for s in c.plan.segments { for d in s.dependsOn { map[d, default: []].append(s.id) } }
        jobIndex.dependents[task.job] = map
        return map[task.key] ?? []
    }

    /// A job's priority (fixed at submit), for the tasks its completions make ready.
    func priority(of job: String) throws -> Int {
        if let p = jobIndex.priorities[job] { return p }
        let p = try store.job(job)?.priority ?? 0
        jobIndex.priorities[job] = p
        return p
    }

    /// The `assign` message for a lease: the engine task with its pinned latents read from the artifact store.
    func assignment(_ task: TaskKey, attempt: Int) throws -> WireMessage {
        guard let job = try context(task.job) else { throw WireError(.invalid, "job \(task.job) is not active") }
        func latents(_ key: String, _ name: String) -> Latents? {
            guard let hash = jobIndex.outputHashes[task.job]?[key]?[name] ?? (try? store.output(job: task.job, key: key, name: name)) else {
                return nil
            }
            if let cached = jobIndex.tailCache[hash] { return cached }
            guard let data = try? store.artifacts.read(hash), let l = try? LatentsCodec.decode(data) else { return nil }
            if jobIndex.tailCache.count >= 4_096 { jobIndex.tailCache.removeAll(keepingCapacity: true) }  // a bound, not an LRU: misses only re-read a file
            jobIndex.tailCache[hash] = l
            return l
        }
        let lease = Lease(task: task.id, attempt: attempt)
        let model = ModelDescription(job.spec.model)
        if let pass = job.plan.anchors.first(where: { $0.id == task.key }) {
            let (d, blobs) = AnchorDescription.make(try job.anchorTask(pass, anchors: { latents($0, "anchors") }))
            return .assign(Assign(lease: lease, model: model, segment: nil, anchors: d), blobs: blobs)
        }
        guard let segment = job.segment(task.key) else { throw WireError(.invalid, "job \(task.job) has no task \(task.key)") }
        let t = try job.segmentTask(segment, tail: { latents($0, "tail") }, anchors: { latents($0, "anchors") })
        let (d, blobs) = SegmentDescription.make(t)
        return .assign(Assign(lease: lease, model: model, segment: d, anchors: nil), blobs: blobs)
    }
}
