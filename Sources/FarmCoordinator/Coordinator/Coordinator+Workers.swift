import FarmStore
import FarmWire
import Foundation

extension Coordinator {
    /// A worker registers (or re-registers after a reconnect); leases it still holds but no longer owns are dropped.
    func hello(_ h: Hello, from identity: Data) throws {
        try Self.check(h)
        let now = Self.clock
        let base = h.name.isEmpty ? "worker" : h.name
        let current = sessions[identity]
        let id: String
        if let instance = h.instance {
            // Stable across reconnects and coordinator restarts: the same process always gets the same id.
            id = "\(base)-\(instance.prefix(6).lowercased())"
        } else if let current, current.hello.name == h.name {
            id = current.id  // a hello again on the same connection is the same worker: its row, not a new one
        } else {
            workerCounter += 1
            id = "\(base)-\(workerCounter)"
        }
        if let current, current.id != id { try store.setWorker(current.id, state: "gone", lastSeen: Self.wall) }
        let session = WorkerSession(identity: identity, id: id, hello: h, now: now)
        // The sessions this hello replaces: an earlier hello on this connection, and the same worker process on another
        // connection (a reconnect), so that reaping it later cannot mark the live worker dead. Leases the new hello
        // still reports carry over; the rest are lost.
        let replaced = [current, sessions.session(id: id)].compactMap { $0 }.reduce(into: [WorkerSession]()) { list, s in
            if !list.contains(where: { $0 === s }) { list.append(s) }
        }
        for old in replaced { sessions.remove(old) }
        var drop: [Lease] = []
        var carried: Set<TaskKey> = []
        for lease in h.running {
            // A lease survives only if it is still this task's current one and no connected worker holds it.
            if let key = TaskKey(id: lease.task), let held = leases[key], held.attempt == lease.attempt,
               sessions[held.identity] == nil, !carried.contains(key) {
                leases.grant(key, attempt: lease.attempt, to: identity)
                session.hold(key, attempt: lease.attempt, at: now)
                carried.insert(key)
            } else {
                drop.append(lease)
            }
        }
        for old in replaced {
            old.retain { !carried.contains($0) && leases[$0]?.identity == old.identity }
            try loseLeases(of: old, reason: old.identity == identity ? "worker re-registered" : "worker \(id) reconnected without it")
        }
        sessions.insert(session, now: now)
        if disabledWorkers.contains(id) { session.startDraining() }  // disabled from the dashboard: stays so
        try declare(h, worker: id)
        try store.upsertWorker(WorkerRecord(id: id, name: h.name, engines: h.engines, device: h.device, slots: h.slots,
                                            memory: h.memoryBytes, maxPixels: h.maxFramePixels, tags: h.tags,
                                            state: "alive", lastSeen: Self.wall), now: Self.wall)
        send(identity, WireMessage(.welcome, Welcome(
            workerId: id, heartbeatMillis: config.heartbeatMillis, deadAfterMillis: config.deadAfterMillis,
            maxMessageBytes: WireMessage.maxMessageBytes, pieceBytes: WireMessage.pieceBytes, drop: drop, beatMillis: config.beatMillis)))
        // Every join is logged on a small farm; on a large one, reconnects and every thousandth.
        if sessions.count <= 1_000 || !replaced.isEmpty || sessions.count % 1_000 == 0 {
            log("worker \(id) joined: \(h.slots) slots, engines \(h.engines.joined(separator: ",")), \(h.device)"
                + (sessions.count > 1_000 ? " (\(sessions.count) connected)" : ""))
        }
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
        for (engine, version) in h.versions ?? [:] {
            guard h.engines.contains(engine) else { throw bad("versions names engine \(engine.prefix(64)), which engines does not list") }
            guard (1...256).contains(version.utf8.count), version.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw bad("version of engine \(engine) must be 1–256 printable characters")
            }
        }
    }

    /// A worker's heartbeat; an unknown peer is told to say hello again. It lists every lease the worker works on:
    /// a lease held longer than the liveness limit that it does not list is lost (its `assign` never arrived, or
    /// the worker dropped it) and the task goes back to the queue, instead of waiting for a result that will not come.
    func heartbeat(_ beat: Heartbeat, from identity: Data) throws {
        let session = try known(identity)
        guard !session.leases.isEmpty else { return }  // an idle worker's heartbeat costs a lookup and a clock read
        let now = session.lastSeen
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
            }
        }
        log("worker \(session.id) no longer reports \(missing.count) lease(s); back in the queue")
    }

    func known(_ identity: Data) throws -> WorkerSession {
        guard let s = sessions[identity] else { throw WireError(.unknownPeer, "unknown worker: send hello first") }
        sessions.touch(s, now: Self.clock)
        return s
    }

    /// A worker leaves; anything it still held goes back to the queue.
    func bye(_ b: Bye, from identity: Data) throws {
        guard let s = sessions.remove(identity: identity) else { return }
        try loseLeases(of: s, reason: "worker left: \(b.reason)", outcome: "handed-back")
        try store.setWorker(s.id, state: "gone", lastSeen: Self.wall)
        log("worker \(s.id) left (\(b.reason))")
    }

    /// Declares dead the workers silent past the limit at `now` (up to when the loop last heard everything), unless so
    /// many fell silent at once that the fault is more likely the coordinator's (``LivenessClock/spares(silent:of:now:limit:)``);
    /// their tasks go back to the queue.
    func reapSilentWorkers(now: Double) {
        let limit = Double(config.deadAfterMillis) / 1000
        let silent = sessions.silentSessions(now: now, limit: limit)
        let first = liveness.massSince == nil
        let clock = Self.clock
        if liveness.spares(silent: silent.count, of: sessions.count, now: clock, limit: limit) {
            for s in silent { sessions.spare(s, now: clock) }
            if first {
                log("\(silent.count) of \(sessions.count) workers fell silent at once: more likely this coordinator or its network "
                    + "than the workers; none is declared dead for \(Int(LivenessClock.massSilenceSeconds)) s unless it stays silent")
            }
            return
        }
        for s in silent {
            sessions.remove(s)
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
            leases.end(task)
            try endLease(task, attempt: attempt, worker: s, outcome: outcome, reason: reason)
        }
        s.retain { _ in false }
    }
}
