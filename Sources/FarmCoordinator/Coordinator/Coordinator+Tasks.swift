import FarmCore
import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// The worker session holding `lease`, or a stale-lease refusal.
    func holder(of lease: Lease, from identity: Data) throws -> (WorkerSession, TaskKey) {
        let session = try known(identity)
        guard let key = TaskKey(id: lease.task) else { throw WireError(.badPayload, "lease task \(lease.task) is not job:key") }
        guard let current = leases[key], current.attempt == lease.attempt, current.identity == identity else {
            throw WireError(.stale, "lease \(lease) is not current (task is \(leases[key].map { "running as #\($0.attempt)" } ?? "not running"))")
        }
        return (session, key)
    }

    func progress(_ p: TaskProgress, from identity: Data) throws {
        let (_, key) = try holder(of: p.lease, from: identity)
        // Steps count from 1 (after the first denoising step) to `steps`; 0 before the first.
        guard p.steps >= 1, p.steps <= 1_000_000, p.step >= 0, p.step <= p.steps else {
            throw WireError(.badPayload, "progress \(p.step) of \(p.steps) is out of range (0 ≤ step ≤ steps, 1 ≤ steps)")
        }
        leases.noteProgress(key, attempt: p.lease.attempt, step: p.step, steps: p.steps)
    }

    /// A piece of an output; pieces must arrive in order and stay within the announced total.
    func resultPart(_ part: ResultPart, blobs: [Data], from identity: Data) throws {
        let (_, key) = try holder(of: part.lease, from: identity)
        guard let expected = try expectedOutputs(key), expected.names.contains(part.output) else {
            throw WireError(.badPayload, "\(part.lease) has no output \(part.output)")
        }
        guard blobs.count == 1,
              blobs[0].count <= WireMessage.pieceBytes, part.total >= 0, part.total <= 1 << 31 else {
            throw WireError(.badPayload, "result part must carry one blob of ≤ \(WireMessage.pieceBytes) bytes of a known output")
        }
        let have = leases.received(part.lease, part.output)
        guard part.offset == have, part.offset <= part.total - blobs[0].count else {
            throw WireError(.badPayload, "\(part.output) piece at \(part.offset) does not continue the \(have) bytes received")
        }
        leases.append(blobs[0], to: part.output, of: part.lease)
    }

    /// A finished task: its outputs are checked against their digests, stored, and its dependents become ready.
    ///
    /// Runs without a savepoint of its own (one per result costs more than the rest of recording it): everything that
    /// can be refused is checked before the store changes, and a store failure after that ends the whole iteration
    /// (``CoordinatorFailure``) instead of committing half a result.
    func result(_ r: TaskResult, blobs: [Data], from identity: Data) throws {
        let (session, key) = try holder(of: r.lease, from: identity)
        let received = leases.takePieces(of: r.lease)
        /// A result that does not hold what the task asked for fails this attempt, charged to the worker that sent it.
        func reject(_ why: String, kind: WireError.Kind = .badResult) throws {
            try store.atomically { try endLease(key, attempt: r.lease.attempt, worker: session, outcome: "failed", reason: why) }
            refuse(identity, WireError(kind, "\(r.lease): \(why)"), sequence: 0)
            log("refused the result of \(r.lease) from \(session.id): \(why)")
        }
        let inline = r.outputs.compactMap(\.blob)
        guard inline.allSatisfy({ blobs.indices.contains($0) }), Set(inline).count == inline.count, inline.count == blobs.count else {
            return try reject("result names blobs \(inline) but carries \(blobs.count)")
        }
        guard Set(r.outputs.map(\.output)).count == r.outputs.count else {
            return try reject("result lists an output twice: \(r.outputs.map(\.output))")
        }
        if let stray = Set(received.keys).subtracting(r.outputs.map(\.output)).sorted().first {
            return try reject("output \(stray) came in pieces but the result does not list it")
        }
        var data: [String: Data] = [:], hashes: [String: String] = [:]
        for digest in r.outputs {
            if digest.blob != nil, received[digest.output] != nil {
                return try reject("output \(digest.output) came both inline and in pieces")
            }
            let bytes = digest.blob.map { blobs[$0] } ?? received[digest.output] ?? Data()
            let hash = ArtifactStore.digest(bytes)
            guard bytes.count == digest.size, hash == digest.sha256 else {
                return try reject("output \(digest.output) arrived as \(bytes.count) bytes \(hash.prefix(12)), announced "
                                  + "\(digest.size) bytes \(digest.sha256.prefix(12))", kind: .badPayload)
            }
            data[digest.output] = bytes
            hashes[digest.output] = hash
        }
        guard let expected = try expectedOutputs(key) else {
            throw WireError(.stale, "\(r.lease): its job is no longer running")
        }
        do {
            try check(data, of: key, expected: expected)
        } catch {
            return try reject(error.description)
        }
        var outputs: [(name: String, hash: String, size: Int)] = []
        for (name, bytes) in data.sorted(by: { $0.key < $1.key }) {
            let hash = hashes[name] ?? ArtifactStore.digest(bytes)
            do {
                try store.artifacts.put(bytes, hash: hash)
            } catch {
                // The coordinator's disk, not the worker: the attempt fails (a retry may find room; three end the job
                // with this reason) rather than leaving the lease waiting for a result already received.
                return try reject("cannot store output \(name) of \(r.lease): \(error)", kind: .invalid)
            }
            outputs.append((name, hash, bytes.count))
        }
        // The store first: if it refuses, memory still agrees with it.
        let ready: [ReadyTask]
        do {
            ready = try store.complete(key, attempt: r.lease.attempt, outputs: outputs, priority: try priority(of: key.job),
                                       dependents: dependents(of: key), now: Self.wall)
        } catch let stale as StaleLease {
            throw WireError(.stale, stale.description)  // checked before anything changed
        } catch {
            throw CoordinatorFailure("recording the result of \(r.lease): \(error)")
        }
        // Reused by later jobs only if the engine that made it is the one its key names (a job without keys has
        // nothing to forget: no write on the result path).
        if try !madeByKeyedEngine(key.job, session) {
            do { try store.forgetReuseKey(key) } catch {
                throw CoordinatorFailure("recording that \(key) is not reusable: \(error)")
            }
        }
        leases.end(key)
        session.release(key)
        finished(key, attempt: r.lease.attempt, by: session)
        stats.results += 1
        gauges.resultsTotal += 1
        jobIndex.outputHashes[key.job, default: [:]][key.key] = Dictionary(outputs.map { ($0.name, $0.hash) }, uniquingKeysWith: { a, _ in a })
        // The job's film takes the segment once the prefix of finished segments reaches it (hashes from memory, no
        // I/O; told after the commit).
        if let job = jobIndex.contexts[key.job], let position = job.position(ofSegment: key.key),
           let chunk = hashes["chunk"], let audio = hashes["audio"] {
            assemblyNotices.append(.segmentFinished(job: key.job, format: job.spec.output, position: position,
                                                    key: key.key, chunk: chunk, audio: audio))
        }
        for t in ready { queue.push(t) }
        // Tasks still to finish, counted in memory once loaded (a query per completion would cost more than the rest).
        let left: Int
        if let n = jobIndex.unfinished[key.job] { left = n - 1 } else { left = try store.unfinishedTasks(job: key.job) }
        jobIndex.unfinished[key.job] = left
        if left == 0, let job = try store.job(key.job), job.state == .running {
            jobIndex.unfinished[key.job] = nil
            do { try store.setJob(key.job, state: .assembling, now: Self.wall) } catch {
                throw CoordinatorFailure("recording that job \(key.job) is assembling: \(error)")
            }
            assemblyNotices.append(.assemble(job: key.job))
        }
    }

    /// Whether `session` runs the job's engine at the identity the job's reuse keys were made with; true for a job
    /// without keys.
    func madeByKeyedEngine(_ job: String, _ session: WorkerSession) throws -> Bool {
        let keyed: String?
        if let v = jobIndex.keyedVersions[job] { keyed = v } else {
            keyed = try store.job(job)?.engineVersion
            jobIndex.keyedVersions[job] = .some(keyed)
        }
        guard let keyed else { return true }
        guard let model = jobIndex.contexts[job]?.spec.model else { return false }
        return session.hello.versions?[model.engine] == keyed
    }

    func failed(_ f: TaskFailed, from identity: Data) throws {
        let (session, key) = try holder(of: f.lease, from: identity)
        leases.end(key)
        session.release(key)
        if f.handedBack { session.startDraining() }  // a worker hands work back only while draining
        try endLease(key, attempt: f.lease.attempt, worker: session, outcome: f.handedBack ? "handed-back" : "failed", reason: f.reason)
    }

    /// Ends a lease without a result: retry, or fail the job after too many failures.
    func endLease(_ key: TaskKey, attempt: Int, worker: WorkerSession, outcome: String, reason: String) throws {
        leases.end(key)
        worker.release(key)
        if outcome != "handed-back" {
            _ = try store.recordFailure(worker: worker.id, job: key.job)
        }
        switch try store.endLease(key, attempt: attempt, outcome: outcome, reason: reason, maxFailures: config.maxFailures, now: Self.wall) {
        case .requeued(let t): queue.push(t)
        case .jobFailed(let why): try stopJob(key.job, state: .failed, reason: why)
        case .stale: break
        }
    }

    /// Stops a job (cancel or failure): running tasks are cancelled on their workers.
    @discardableResult
    func stopJob(_ job: String, state: JobState, reason: String?) throws -> Int {
        let stopped = try store.stopJob(job, state: state, reason: reason, now: Self.wall)
        queue.remove(job: job)
        for (task, attempt, _) in stopped {
            if let holder = leases.end(task) {
                sessions[holder.identity]?.release(task)
                send(holder.identity, WireMessage(.cancelTask, CancelTask(lease: Lease(task: task.id, attempt: attempt),
                                                                          reason: reason ?? "job \(state.rawValue)")))
            }
        }
        unload(job)
        log("job \(job) \(state.rawValue)\(reason.map { ": \($0)" } ?? "")")
        return stopped.count
    }

    /// Drops what memory holds about a job that stopped running (it is loaded again from the store if it resumes).
    func unload(_ job: String) {
        jobIndex.unload(job)
        scheduling.unload(job)
        assemblyNotices.append(.discard(job: job))
    }
}
