import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// A worker registers (or re-registers after a reconnect); leases it still holds but no longer owns are dropped.
    func hello(_ h: Hello, from identity: Data) throws {
        try Self.check(h)
        let now = Self.clock
        if let old = sessions[identity] { try loseLeases(of: old, reason: "worker re-registered") }
        let base = h.name.isEmpty ? "worker" : h.name
        let id: String
        if let instance = h.instance {
            // Stable across reconnects and coordinator restarts: the same process always gets the same id.
            id = "\(base)-\(instance.prefix(6).lowercased())"
        } else {
            workerCounter += 1
            id = "\(base)-\(workerCounter)"
        }
        let session = WorkerSession(identity: identity, id: id, hello: h, now: now)
        // The same worker process on a new connection (a reconnect): its old session goes, so that reaping it later
        // cannot mark the live worker dead. Leases the new hello still reports carry over below; the rest are lost.
        let previous = sessions.first { $0.key != identity && $0.value.id == id }?.value
        if let previous { sessions[previous.identity] = nil }
        var drop: [Lease] = []
        for lease in h.running {
            // A lease survives a reconnect only if it is still this task's current one and nobody else holds it.
            if let key = TaskKey(id: lease.task), let current = running[key], current.attempt == lease.attempt,
               sessions[current.identity] == nil {
                running[key] = (lease.attempt, identity)
                session.leases[key] = lease.attempt
                session.leasedAt[key] = now
            } else {
                drop.append(lease)
            }
        }
        if let previous {
            previous.leases = previous.leases.filter { key, _ in running[key]?.identity == previous.identity }
            try loseLeases(of: previous, reason: "worker \(id) reconnected without it")
        }
        sessions[identity] = session
        try declare(h, worker: id)
        try store.upsertWorker(WorkerRecord(id: id, name: h.name, engines: h.engines, device: h.device, slots: h.slots,
                                            memory: h.memoryBytes, maxPixels: h.maxFramePixels, tags: h.tags,
                                            state: "alive", lastSeen: Self.wall), now: Self.wall)
        send(identity, WireMessage(.welcome, Welcome(
            workerId: id, heartbeatMillis: config.heartbeatMillis, deadAfterMillis: config.deadAfterMillis,
            maxMessageBytes: WireMessage.maxMessageBytes, pieceBytes: WireMessage.pieceBytes, drop: drop)))
        log("worker \(id) joined: \(h.slots) slots, engines \(h.engines.joined(separator: ",")), \(h.device)")
    }

    /// Range checks on what a worker says it can do; a `hello` that fails them is refused and nothing is recorded.
    static func check(_ h: Hello) throws {
        func bad(_ why: String) -> WireError { WireError(.badPayload, "hello: \(why)") }
        func isName(_ s: String) -> Bool {
            (1...64).contains(s.utf8.count) && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F }
        }
        guard h.name.isEmpty || isName(h.name) else { throw bad("name must be 1–64 printable characters without spaces") }
        guard (1...1024).contains(h.slots) else { throw bad("slots \(h.slots) is not in 1...1024") }
        guard (1...64).contains(h.engines.count), h.engines.allSatisfy(isName) else {
            throw bad("engines must list 1–64 names of 1–64 printable characters")
        }
        guard ["cpu", "gpu"].contains(h.device) else { throw bad("device \"\(h.device.prefix(32))\" is not cpu or gpu") }
        guard h.memoryBytes >= 0, h.memoryBytes <= 1 << 50 else { throw bad("memory_bytes \(h.memoryBytes) is not in 0...2^50") }
        guard h.maxFramePixels >= 1, h.maxFramePixels <= 1 << 32 else {
            throw bad("max_frame_pixels \(h.maxFramePixels) is not in 1...2^32")
        }
        guard h.tags.count <= 64, h.tags.allSatisfy(isName) else { throw bad("tags must be ≤ 64 names of 1–64 printable characters") }
        guard h.running.count <= h.slots else { throw bad("\(h.running.count) running leases for \(h.slots) slots") }
        if let instance = h.instance {
            guard (16...64).contains(instance.count), instance.allSatisfy(\.isHexDigit) else {
                throw bad("instance must be 16–64 hex digits")
            }
        }
        for (engine, doc) in h.geometries ?? [:] {
            guard h.engines.contains(engine) else { throw bad("geometries names engine \(engine.prefix(64)), which engines does not list") }
            do { _ = try doc.geometry() } catch { throw bad("engine \(engine): \(error.message)") }
        }
    }

    /// A worker's heartbeat; an unknown peer is told to say hello again. It lists every lease the worker works on:
    /// a lease held longer than the liveness limit that it does not list is lost (its `assign` never arrived, or
    /// the worker dropped it) and the task goes back to the queue, instead of waiting for a result that will not come.
    func heartbeat(_ beat: Heartbeat, from identity: Data) throws {
        let session = try known(identity)
        let now = Self.clock
        session.lastSeen = now
        let limit = Double(config.deadAfterMillis) / 1000
        let reported = Set(beat.running)
        let missing = session.leases.filter { key, attempt in
            now - (session.leasedAt[key] ?? now) > limit && !reported.contains(Lease(task: key.id, attempt: attempt))
        }
        guard !missing.isEmpty else { return }
        try store.atomically {
            for (key, attempt) in missing {
                try endLease(key, attempt: attempt, worker: session, outcome: "lost",
                             reason: "worker \(session.id) no longer reports lease \(Lease(task: key.id, attempt: attempt))")
                uploads[Lease(task: key.id, attempt: attempt)] = nil
            }
        }
        log("worker \(session.id) no longer reports \(missing.count) lease(s); back in the queue")
    }

    func known(_ identity: Data) throws -> WorkerSession {
        guard let s = sessions[identity] else { throw WireError(.unknownPeer, "unknown worker: send hello first") }
        s.lastSeen = Self.clock
        return s
    }

    /// A worker leaves; anything it still held goes back to the queue.
    func bye(_ b: Bye, from identity: Data) throws {
        guard let s = sessions.removeValue(forKey: identity) else { return }
        try loseLeases(of: s, reason: "worker left: \(b.reason)", outcome: "handed-back")
        try store.setWorker(s.id, state: "gone", lastSeen: Self.wall)
        log("worker \(s.id) left (\(b.reason))")
    }

    /// Workers silent longer than the limit are dead; their tasks go back to the queue.
    func reapSilentWorkers(now: Double) {
        let limit = Double(config.deadAfterMillis) / 1000
        nextReap = now + limit
        for s in sessions.values where now - s.lastSeen <= limit { nextReap = min(nextReap, s.lastSeen + limit) }
        for (identity, s) in sessions where now - s.lastSeen > limit {
            sessions[identity] = nil
            do {
                try loseLeases(of: s, reason: "worker \(s.id) silent for \(Int((now - s.lastSeen) * 1000)) ms")
                try store.setWorker(s.id, state: "dead", lastSeen: Self.wall)
            } catch {
                log("could not record the loss of \(s.id): \(error)")
            }
            log("worker \(s.id) is dead (silent \(String(format: "%.1f", now - s.lastSeen)) s)")
        }
    }

    /// Ends every lease a worker held as lost (a failure) or handed back.
    func loseLeases(of s: WorkerSession, reason: String, outcome: String = "lost") throws {
        for (task, attempt) in s.leases {
            running[task] = nil
            uploads = uploads.filter { $0.key.task != task.id }
            try endLease(task, attempt: attempt, worker: s, outcome: outcome, reason: reason)
        }
        s.leases.removeAll()
    }
}
