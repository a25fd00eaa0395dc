import FarmCoordinator
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import FarmTesting
import FarmWire
import FarmStore
import FarmWorker
import Foundation
import GRDB
import Testing

/// The coordinator's socket against hand-made peers: leases, refusals, and serving others through it all.
@Suite(.serialized, .timeLimit(.minutes(3)), .ownThreads) struct CoordinatorProtocolTests {
    func hello(_ name: String, slots: Int = 1, running: [Lease] = []) -> WireMessage {
        WireMessage(.hello, Hello(name: name, engines: ["testcard"], device: "cpu", slots: slots, memoryBytes: 1 << 30,
                                  maxFramePixels: 1 << 22, tags: [], running: running))
    }

    /// A small test-card storyboard: one 20-frame segment per shot.
    static func storyboard(_ title: String, shots: [String], steps: Int = 1) -> String {
        """
        title: \(title)
        output: {width: 192, height: 64, fps: "24", sample_rate: 48000, channels: 1}
        model: {engine: testcard, window: 33, overlap: 9, steps: \(steps), seed: 3, schedule: chain}
        shots: [\(shots.map { "{id: \($0), frames: 20, prompt: p}" }.joined(separator: ", "))]
        """
    }

    /// Runs an assigned segment with the real engine and returns the parts and result a worker would send.
    func answer(_ assign: WireMessage, lease override: Lease? = nil, inline: Bool = false) throws -> [WireMessage] {
        let a = try assign.payload(Assign.self)
        let lease = override ?? a.lease
        let task = try a.segment!.task(blobs: assign.blobs)
        let art = try SegmentRunner(engine: TestCardEngine(), encoder: H264ChunkEncoder()).run(task) { _, _ in }
        var out: [WireMessage] = []
        var digests: [OutputDigest] = []
        let outputs = [("chunk", art.chunk.data), ("audio", PCMCodec.encode(art.audio)), ("tail", LatentsCodec.encode(art.tail))]
        for (i, (name, data)) in outputs.enumerated() {
            if !inline {
                out.append(WireMessage(.resultPart, ResultPart(lease: lease, output: name, offset: 0, total: data.count), blobs: [data]))
            }
            digests.append(OutputDigest(output: name, size: data.count, sha256: Digest.sha256(data), blob: inline ? i : nil))
        }
        out.append(WireMessage(.result, TaskResult(lease: lease, outputs: digests), blobs: inline ? outputs.map(\.1) : []))
        return out
    }

    /// Outputs sent inside the `result` are checked like pieces: a blob the result does not account for fails the
    /// attempt; the honest answer is accepted and the film is the local one (more lies: `HostileWorkerTests`).
    @Test func inlineOutputsAreCheckedLikePieces() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let one = Self.storyboard("one", shots: ["a"])
        let job = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("inline"))
        let first = try #require(try peer.next([.assign]))
        let honest = try #require(try answer(first, inline: true).last)
        // One blob too many: refused, and the attempt fails (charged to this worker).
        var extra = honest
        extra.blobs.append(Data([1]))
        try peer.send(extra)
        let refusal = try #require(try peer.next([.refused]))
        #expect(try refusal.payload(Refusal.self).kind == .badResult)
        #expect(try refusal.payload(Refusal.self).message.contains("blobs"))
        let second = try #require(try peer.next([.assign]))
        #expect(try second.payload(Assign.self).lease.attempt == 2)
        for m in try answer(second, inline: true) { try peer.send(m) }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.map(\.outcome) == ["failed", "done"])
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(one))
    }

    @Test func aStaleAttemptsLateResultIsRefused() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let one = Self.storyboard("one", shots: ["a"])
        let job = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        // Worker A takes the task, then goes silent past the 3 s limit.
        let a = try RawPeer(endpoint)
        try a.send(hello("a"))
        let first = try #require(try a.next([.assign]))
        let firstLease = try first.payload(Assign.self).lease
        #expect(firstLease.attempt == 1)
        Thread.sleep(forTimeInterval: 3.6)
        // Worker B is given the task again, under attempt 2.
        let b = try RawPeer(endpoint)
        try b.send(hello("b"))
        let second = try #require(try b.next([.assign]))
        #expect(try second.payload(Assign.self).lease == Lease(task: firstLease.task, attempt: 2))
        // A comes back and delivers its late result for attempt 1: refused as stale.
        try a.send(hello("a", running: [firstLease]))
        let welcome = try #require(try a.next([.welcome]))
        #expect(try welcome.payload(Welcome.self).drop == [firstLease])
        for m in try answer(first) { try a.send(m) }
        let refusal = try #require(try a.next([.refused]))
        #expect(try refusal.payload(Refusal.self).kind == .stale)
        // B's result for attempt 2 is the one that counts.
        for m in try answer(second) { try b.send(m) }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.map(\.outcome) == ["lost", "done"])
        #expect((try client.workers().refused["stale"] ?? 0) >= 1)
    }

    @Test func garbageWrongVersionOversizedAndUnknownCommandsLeaveOthersServed() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        // A real worker renders while a hostile peer sends junk.
        let worker = startTestCardWorker(endpoint)
        defer { worker.stop() }
        let client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
        let hostile = try RawPeer(endpoint)
        var good = WireMessage(.heartbeat, Heartbeat()).frames
        try hostile.sendRaw([Data("garbage".utf8)])
        try hostile.sendRaw([Data([0xFF, 0x00, 0x13, 0x37, 1, 2, 3, 4]), Data("{]".utf8)])
        good[0][2] = 99
        try hostile.sendRaw(good)
        var unknown = WireMessage(.heartbeat, Heartbeat()).frames
        unknown[0][3] = 250
        try hostile.sendRaw(unknown)
        try hostile.sendRaw(WireMessage(.heartbeat, Heartbeat()).frames + [Data(count: WireMessage.maxMessageBytes)])
        try hostile.send(WireMessage(.assign, Heartbeat()))
        try hostile.send(WireMessage(.progress, TaskProgress(lease: Lease(task: "\(job):wide/0", attempt: 1), step: 1, steps: 2)))
        var kinds: [WireError.Kind] = []
        while let m = try hostile.next([.refused], seconds: 3) { kinds.append(try m.payload(Refusal.self).kind) }
        #expect(Set(kinds) == [.malformed, .badVersion, .unknownCommand, .tooLarge, .unexpected, .unknownPeer], "\(kinds)")
        let status = try waitFor(client, job: job, seconds: 60)
        #expect(status.jobs.first?.state == "done")
        let refused = try client.workers().refused
        for k in ["malformed", "bad-version", "unknown-command", "too-large", "unexpected", "unknown-peer"] {
            #expect((refused[k] ?? 0) >= 1, "\(k) not counted: \(refused)")
        }
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(farmStoryboard))
    }

    @Test func failuresAreRetriedThenFailTheJobAndAFailingWorkerIsExcluded() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let one = Self.storyboard("one", shots: ["a"])
        let job = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        let a = try RawPeer(endpoint)
        try a.send(hello("a"))
        for attempt in 1...2 {
            let m = try #require(try a.next([.assign]), "attempt \(attempt) was not given to a")
            let lease = try m.payload(Assign.self).lease
            #expect(lease.attempt == attempt)
            try a.send(WireMessage(.failed, TaskFailed(lease: lease, reason: "engine exploded #\(attempt)")))
        }
        // a failed this job twice: it gets nothing more of it, although it has a free slot.
        #expect(try a.next([.assign], seconds: 1.5) == nil)
        let b = try RawPeer(endpoint)
        try b.send(hello("b"))
        let third = try #require(try b.next([.assign]))
        #expect(try third.payload(Assign.self).lease.attempt == 3)
        try b.send(WireMessage(.failed, TaskFailed(lease: try third.payload(Assign.self).lease, reason: "engine exploded #3")))
        let status = try waitFor(client, job: job, seconds: 10)
        #expect(status.jobs.first?.state == "failed")
        #expect(status.jobs.first?.error?.contains("engine exploded #3") == true, "\(status.jobs.first?.error ?? "")")
        #expect(status.attempts?.map(\.outcome) == ["failed", "failed", "failed"])
    }

    @Test func aClientsBadRequestIsRefusedToThatRequest() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint, timeoutMillis: 3_000)
        for request in [{ _ = try client.status(job: "nope") }, { _ = try client.cancel(job: "nope") },
                        { _ = try client.fetch(job: "nope", to: URL(fileURLWithPath: "/tmp/never.mp4")) }] {
            do {
                try request()
                Issue.record("a request about a job that does not exist succeeded")
            } catch let FarmClient.ClientError.refused(r) {
                #expect(r.kind == .invalid && r.message.contains("nope"))
            } catch {
                Issue.record("expected a refusal, got \(error)")
            }
        }
    }

    @Test func cancellingAJobStopsItsRunningTasksOnWorkers() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
        let w = try RawPeer(endpoint)
        try w.send(hello("w", slots: 1))
        let assign = try #require(try w.next([.assign]))
        let lease = try assign.payload(Assign.self).lease
        #expect(try client.cancel(job: job).stoppedTasks >= 1)
        let cancel = try #require(try w.next([.cancelTask]))
        #expect(try cancel.payload(CancelTask.self).lease == lease)
        #expect(try client.status(job: job).jobs.first?.state == "cancelled")
        // A result arriving after the cancel is refused (the peer keeps beating while it renders: on a loaded machine
        // the render alone can outlast the 3 s liveness limit).
        for m in try w.beating(while: { try self.answer(assign) }) { try w.send(m) }
        #expect(try w.next([.refused]).map { try $0.payload(Refusal.self).kind } == .stale)
    }

    /// A job that failed runs again with `retry`: the segment finished before the failure is not recomputed, the
    /// failed one runs again (the workers that failed it may take it again), and the film is the local one.
    @Test func aFailedJobRetriedKeepsItsFinishedSegments() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let two = Self.storyboard("two", shots: ["good", "bad"])
        let job = try client.submit(storyboard: two, source: "two.yaml", priority: 0).job
        let x = try RawPeer(endpoint), y = try RawPeer(endpoint)
        try x.send(hello("x", slots: 2))
        try y.send(hello("y", slots: 2))
        // `good/0` is done honestly; `bad/0` fails on whichever peer gets it until the job fails. The failures wait
        // until the store has `good/0` done: failing the job first would cancel `good/0` while it runs.
        var failures = 0
        var heldBad: [(RawPeer, Lease)] = []
        var goodDone = false
        let deadline = Date().addingTimeInterval(20)
        while try client.status(job: job).jobs.first?.state != "failed", Date() < deadline {
            for peer in [x, y] {
                guard let m = try peer.next([.assign], seconds: 0.2) else { continue }
                let lease = try m.payload(Assign.self).lease
                if lease.task.hasSuffix(":good/0") {
                    for r in try answer(m) { try peer.send(r) }
                } else {
                    heldBad.append((peer, lease))
                }
            }
            goodDone = try goodDone || (client.status(job: job).tasks?.contains { $0.key == "good/0" && $0.state == "done" } ?? false)
            guard goodDone else { continue }
            for (peer, lease) in heldBad {
                failures += 1
                try peer.send(WireMessage(.failed, TaskFailed(lease: lease, reason: "out of GPU memory #\(failures)")))
            }
            heldBad = []
        }
        #expect(failures == 3)
        // Only a failed or cancelled job can be retried.
        #expect(throws: FarmClient.ClientError.self) { try client.retry(job: "jnope") }
        #expect(try client.retry(job: job).requeuedTasks == 1)
        #expect(throws: FarmClient.ClientError.self) { try client.retry(job: job) }
        var again: (RawPeer, WireMessage)?
        for _ in 0..<20 where again == nil {
            for peer in [x, y] where again == nil {
                if let m = try peer.next([.assign], seconds: 0.1) { again = (peer, m) }
            }
        }
        let (holder, assign) = try #require(again, "the failed task was not handed out again")
        #expect(try assign.payload(Assign.self).lease.attempt == 4)
        for r in try answer(assign) { try holder.send(r) }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.filter { $0.key == "good/0" }.map(\.outcome) == ["done"])
        #expect(status.attempts?.filter { $0.key == "bad/0" }.map(\.outcome) == ["failed", "failed", "failed", "done"])
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(two))
    }

    /// Submits `storyboard` (shots `a` and `b`), leases both to one peer, answers `b/0` and, once it is done, flips
    /// a byte of its stored `output` as a failing disk would. Returns the job, the peer and `a/0`'s assignment.
    ///
    /// The film takes a segment's outputs (and checks them) once every segment before it has finished, so `b/0`'s
    /// outputs wait, unread, until `a/0` lands: the damage is in place before the film reads them.
    func damagedSecondOfTwo(_ storyboard: String, output: String, client: FarmClient, endpoint: String, dir: URL) throws
        -> (job: String, peer: RawPeer, a: WireMessage) {
        let job = try client.submit(storyboard: storyboard, source: "two.yaml", priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 2))
        var assigns: [WireMessage] = []
        while assigns.count < 2, let m = try peer.next([.assign]) { assigns.append(m) }
        let a = try #require(assigns.first { try $0.payload(Assign.self).lease.task.hasSuffix(":a/0") })
        let b = try #require(assigns.first { try $0.payload(Assign.self).lease.task.hasSuffix(":b/0") })
        let answered = try peer.beating(while: { try self.answer(b, inline: true) })
        for m in answered { try peer.send(m) }
        _ = try waitFor(client, job: job, seconds: 10) { $0.tasks?.first { $0.key == "b/0" }?.state == "done" }
        let result = try #require(answered.last).payload(TaskResult.self)
        try damageArtifact(try #require(result.outputs.first { $0.output == output }).sha256, in: dir)
        return (job, peer, a)
    }

    /// A finished segment's output damaged on disk before the film takes it is caught by its hash: that segment
    /// runs again (its result is deterministic) and the film is still the local one.
    @Test(arguments: ["audio", "chunk"])
    func aDamagedOutputFoundInAssemblyRunsItsSegmentAgain(output: String) throws {
        let dir = try temporaryDirectory()
        let log = LogLines()
        let (coordinator, endpoint) = try inProcessCoordinator(dir, log: log)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let two = Self.storyboard("two", shots: ["a", "b"])
        let (job, peer, a) = try damagedSecondOfTwo(two, output: output, client: client, endpoint: endpoint, dir: dir)
        // Rendered while the peer beats: on a loaded machine a silent render outlasts the liveness limit.
        for m in try peer.beating(while: { try self.answer(a, inline: true) }) { try peer.send(m) }
        let again = try #require(try peer.next([.assign]), "the segment with the damaged \(output) did not run again")
        let lease = try again.payload(Assign.self).lease
        #expect(lease.task.hasSuffix(":b/0") && lease.attempt == 2)
        for m in try peer.beating(while: { try self.answer(again, inline: true) }) { try peer.send(m) }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.filter { $0.key == "b/0" }.map(\.outcome) == ["done", "done"])
        #expect(status.attempts?.filter { $0.key == "a/0" }.map(\.outcome) == ["done"])
        // The film in progress read the damage first and gave way to a whole assembly, which ran b/0 again.
        #expect(log.all.contains { $0.contains("assembled whole at the end") && $0.contains("b/0") }, "\(log.all)")
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(two))
    }

    /// `retry` also runs again a finished segment whose stored output was damaged since (a job that failed in assembly
    /// for that reason is mended by retry, not told "0 tasks to run again").
    @Test func retryRunsAgainASegmentWhoseStoredOutputIsDamaged() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let two = Self.storyboard("two", shots: ["a", "b"])
        let (job, peer, _) = try damagedSecondOfTwo(two, output: "audio", client: client, endpoint: endpoint, dir: dir)
        _ = try client.cancel(job: job)
        #expect(try client.retry(job: job).requeuedTasks == 2)
        var again: [WireMessage] = []
        while again.count < 2, let m = try peer.next([.assign]) { again.append(m) }
        #expect(Set(try again.map { try $0.payload(Assign.self).lease.task.split(separator: ":").last.map(String.init) ?? "" })
                == ["a/0", "b/0"])
        for m in again { for r in try answer(m, inline: true) { try peer.send(r) } }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.filter { $0.key == "b/0" }.map(\.outcome) == ["done", "done"])
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(two))
    }

    /// A worker process keeps its id across a reconnect (same `instance`, new connection): the lease it still reports
    /// carries over, its result counts, and the old connection going silent does not mark the live worker dead.
    @Test func aReconnectingWorkerKeepsItsIdAndItsLease() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let one = Self.storyboard("one", shots: ["a"])
        let job = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        let instance = "0123456789abcdef0123456789abcdef"
        func hello(running: [Lease]) -> WireMessage {
            WireMessage(.hello, Hello(name: "w", engines: ["testcard"], device: "cpu", slots: 1, memoryBytes: 1 << 30,
                                      maxFramePixels: 1 << 22, tags: [], running: running, instance: instance))
        }
        let first = try RawPeer(endpoint)
        try first.send(hello(running: []))
        #expect(try first.next([.welcome]).map { try $0.payload(Welcome.self).workerId } == "w-012345")
        let assign = try #require(try first.next([.assign]))
        let lease = try assign.payload(Assign.self).lease
        let second = try RawPeer(endpoint)
        try second.send(hello(running: [lease]))
        let welcome = try #require(try second.next([.welcome])).payload(Welcome.self)
        #expect(welcome.workerId == "w-012345" && welcome.drop.isEmpty)
        for m in try second.beating(while: { try self.answer(assign) }) { try second.send(m) }
        #expect(try waitFor(client, job: job, seconds: 30).jobs.first?.state == "done")
        // The first connection stays silent past the liveness limit: the worker is still one live worker.
        for _ in 0..<14 {
            try second.send(WireMessage(.heartbeat, Heartbeat()))
            Thread.sleep(forTimeInterval: 0.3)
        }
        let workers = try client.workers().workers
        #expect(workers.map(\.id) == ["w-012345"] && workers.first?.state == "alive", "\(workers)")
        #expect(try client.status(job: job).attempts?.map(\.worker) == ["w-012345"])
    }

    /// `delete_job` removes an ended job and exactly the artifacts nothing else uses: two jobs of one storyboard share
    /// their (deterministic) film, so deleting the first keeps it for the second; a running job is refused.
    @Test func deletingAJobKeepsWhatOtherJobsStillUse() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir, keepIntermediates: false)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let one = Self.storyboard("one", shots: ["a"])
        let first = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        let second = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 2))
        for _ in 0 ..< 2 {
            for m in try answer(try #require(try peer.next([.assign])), inline: true) { try peer.send(m) }
        }
        for job in [first, second] { #expect(try waitFor(client, job: job, seconds: 30).jobs.first?.state == "done") }
        let film = try fetchedFilm(client, job: second, into: dir)
        func artifactFiles() throws -> [String] {
            let root = dir.appendingPathComponent("artifacts")
            return try FileManager.default.contentsOfDirectory(atPath: root.path).flatMap {
                try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent($0).path)
            }
        }
        #expect(try artifactFiles() == [Digest.sha256(film)])

        let deleted = try client.delete(job: first)
        #expect(deleted.removedArtifacts == 0 && deleted.freedBytes == 0)
        #expect(throws: FarmClient.ClientError.self) { try client.status(job: first) }
        #expect(try fetchedFilm(client, job: second, into: dir) == film)
        #expect(try client.delete(job: second) == Deleted(job: second, removedArtifacts: 1, freedBytes: film.count))
        #expect(try artifactFiles().isEmpty)
        #expect(try client.status(job: nil).jobs.isEmpty)

        // Still running: refused, and the job goes on; once cancelled it can go.
        let third = try client.submit(storyboard: one, source: "one.yaml", priority: 0).job
        do {
            _ = try client.delete(job: third)
            Issue.record("a queued job was deleted")
        } catch let FarmClient.ClientError.refused(r) {
            #expect(r.kind == .invalid && r.message.contains("cancel it"), "\(r.message)")
        }
        _ = try client.cancel(job: third)
        #expect(try client.delete(job: third).removedArtifacts == 0)
        #expect(throws: FarmClient.ClientError.self) { try client.delete(job: third) }
    }

    /// `status` tells how long a job has run and, from the frames done so far, how long it has left.
    @Test func statusEstimatesTheTimeLeft() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: Self.storyboard("two", shots: ["a", "b"]), source: "two.yaml",
                                    priority: 0).job
        let queued = try #require(try client.status(job: job).jobs.first)
        #expect(queued.runningSeconds == nil && queued.etaSeconds == nil)
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 1))
        let first = try #require(try peer.next([.assign]))
        let started = try #require(try client.status(job: job).jobs.first)
        #expect(started.runningSeconds.map { $0 >= 0 } == true && started.etaSeconds == nil)  // nothing done yet
        for m in try answer(first, inline: true) { try peer.send(m) }
        let half = try waitFor(client, job: job, seconds: 10) { $0.jobs.first?.framesDone == 20 }.jobs.first
        let running = try #require(half?.runningSeconds)
        // One of two equal segments done: as long again to go.
        #expect(half?.etaSeconds == JobSummary.eta(runningSeconds: running, framesDone: 20, framesTotal: 40))
        #expect(half?.etaSeconds == running)
        for m in try answer(try #require(try peer.next([.assign])), inline: true) { try peer.send(m) }
        let done = try #require(try waitFor(client, job: job, seconds: 30).jobs.first)
        #expect(done.state == "done" && done.etaSeconds == nil && done.runningSeconds != nil)
    }

    /// A job's `requires:` keeps its tasks off workers without the device, tags or memory, and `status` says why it
    /// waits; a worker that has all of it gets them.
    @Test func aJobsRequirementsChooseItsWorkers() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let text = Self.storyboard("picky", shots: ["a"]) + "\nrequires: {device: gpu, tags: [a100], memory_gib: 2}\n"
        let job = try client.submit(storyboard: text, source: "picky.yaml", priority: 0).job
        #expect(try client.status(job: job).jobs.first?.waiting == "no worker is connected")
        func worker(_ name: String, device: String, tags: [String], gib: Int64) throws -> RawPeer {
            let peer = try RawPeer(endpoint)
            try peer.send(WireMessage(.hello, Hello(name: name, engines: ["testcard"], device: device, slots: 1,
                                                    memoryBytes: gib << 30, maxFramePixels: 1 << 22, tags: tags,
                                                    running: [])))
            return peer
        }
        let unfit = [try worker("cpu", device: "cpu", tags: ["a100"], gib: 64),
                     try worker("untagged", device: "gpu", tags: ["h100"], gib: 64),
                     try worker("small", device: "gpu", tags: ["a100"], gib: 1)]
        for peer in unfit { #expect(try peer.next([.assign], seconds: 0.5) == nil) }
        let waiting = try #require(try client.status(job: job).jobs.first?.waiting)
        #expect(waiting == "none of the 3 connected workers has engine testcard at 192×64, gpu, tags a100, ≥ 2 GiB")
        let fit = try worker("fit", device: "gpu", tags: ["h100", "a100"], gib: 80)
        let assign = try #require(try fit.next([.assign]))
        #expect(try assign.payload(Assign.self).lease.task.hasSuffix(":a/0"))
        for peer in unfit { #expect(try peer.next([.assign], seconds: 0.2) == nil) }
    }

    /// The loop publishes the farm's gauges (jobs by state, the queue, workers and their slots, what it has done),
    /// and `GET /metrics` serves them in Prometheus' text format; other paths are 404.
    @Test func metricsReportWhatTheFarmIsDoing() async throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        // The peer's side runs on a thread of its own: a busy cooperative pool must not keep it silent past the
        // worker timeout.
        let (g, later) = try await offPool { () throws -> (FarmGauges, FarmGauges) in
            let client = try FarmClient(endpoint: endpoint)
            let job = try client.submit(storyboard: Self.storyboard("two", shots: ["a", "b"]), source: "two.yaml",
                                        priority: 0).job
            let peer = try RawPeer(endpoint)
            try peer.send(self.hello("p", slots: 3))
            try peer.sendRaw([Data([0xde, 0xad])])  // refused and counted
            let first = try #require(try peer.next([.assign]))
            _ = try #require(try peer.next([.assign]))
            // Job counts are refreshed once a heartbeat interval: wait for them.
            for _ in 0 ..< 50 where coordinator.farmGauges.jobs["running"] != 1 { Thread.sleep(forTimeInterval: 0.1) }
            let g = coordinator.farmGauges
            for m in try self.answer(first, inline: true) { try peer.send(m) }
            _ = try waitFor(client, job: job, seconds: 10) { $0.jobs.first?.tasksDone == 1 }
            return (g, coordinator.farmGauges)
        }
        #expect(g.jobs == ["queued": 0, "running": 1, "assembling": 0, "done": 0, "failed": 0, "cancelled": 0])
        #expect(g.tasksRunning == 2 && g.tasksReady == 0 && g.dispatchedTotal == 2 && g.resultsTotal == 0)
        #expect(g.workers == 1 && g.workersDraining == 0 && g.slots == 3 && g.slotsBusy == 2)
        #expect(g.refusedTotal.values.reduce(0, +) == 1)
        #expect(later.resultsTotal == 1 && later.tasksRunning == 1 && later.slotsBusy == 1)

        // Over HTTP, read with a plain socket on a thread of its own (the server needs the cooperative pool).
        let exporter = try MetricsService(host: "127.0.0.1", port: 0) { coordinator.farmGauges }
        let serving = Task { try await exporter.run() }
        defer { serving.cancel() }
        let port = try await exporter.listeningPort(timeout: 120)
        let (status, body) = try await offPool { try httpGet(port: port, path: "/metrics") }
        #expect(status == 200)
        let samples = prometheusSamples(body)
        #expect(samples["reelfarm_results_total"] == 1 && samples["reelfarm_dispatched_total"] == 2)
        #expect(samples["reelfarm_jobs{state=\"running\"}"] == 1 && samples["reelfarm_jobs{state=\"done\"}"] == 0)
        #expect(samples.keys.contains { $0.hasPrefix("reelfarm_refused_total{reason=") })
        for name in ["tasks_ready", "tasks_running", "workers", "workers_draining", "worker_slots", "worker_slots_busy",
                     "films_total", "film_frames_total", "store_wal_frames", "store_checkpoints_total",
                     "store_checkpoint_frames_total", "store_checkpoint_failures_total", "store_inline_checkpoints_total"] {
            #expect(samples["reelfarm_" + name] != nil, "reelfarm_\(name) missing")
        }
        #expect(body.contains("# TYPE reelfarm_results_total counter") && body.contains("# TYPE reelfarm_workers gauge"))
        #expect(try await offPool { try httpGet(port: port, path: "/nope").status } == 404)
    }

    /// The store failing halfway through recording a result (the attempt row cannot be written) leaves nothing half
    /// done: the loop's transaction is rolled back, the coordinator stops, and a restart on the same data finishes
    /// the job with the task run again.
    @Test func aStoreFailureMidResultCommitsNothingAndARestartFinishes() throws {
        let dir = try temporaryDirectory()
        let one = Self.storyboard("one", shots: ["a"])
        let job: String
        do {
            let (coordinator, endpoint) = try inProcessCoordinator(dir)
            defer { coordinator.stop(); coordinator.wait() }
            job = try FarmClient(endpoint: endpoint).submit(storyboard: one, source: "one.yaml", priority: 0).job
            let peer = try RawPeer(endpoint)
            try peer.send(hello("p"))
            let assign = try #require(try peer.next([.assign]))
            // From outside, as a failing disk would: every insert into `attempts` now fails.
            let db = try DatabaseQueue(path: dir.appendingPathComponent("reelfarm.sqlite").path)
            try db.write { try $0.execute(sql: "CREATE TRIGGER broken BEFORE INSERT ON attempts BEGIN SELECT RAISE(ABORT, 'disk on fire'); END") }
            for m in try answer(assign, inline: true) { try peer.send(m) }
            let stopped = DispatchSemaphore(value: 0)
            Thread { coordinator.wait(); stopped.signal() }.start()
            #expect(stopped.wait(timeout: .now() + 10) == .success, "the coordinator kept running on a failing store")
            try db.write { try $0.execute(sql: "DROP TRIGGER broken") }
        }
        // The task is still running under attempt 1: its `done` was rolled back with the failed attempt row.
        let store = try FarmStore(directory: dir)
        #expect(try store.tasks(job: job).map(\.state) == ["running"])
        #expect(try store.attempts(job: job).map(\.outcome) == [nil])
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p2"))
        let again = try #require(try peer.next([.assign]))
        #expect(try again.payload(Assign.self).lease.attempt == 2)
        for m in try answer(again, inline: true) { try peer.send(m) }
        let client = try FarmClient(endpoint: endpoint)
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(status.attempts?.map(\.outcome) == ["coordinator-restart", "done"])
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(one))
    }

    /// A lease whose assign the worker never got (its heartbeats, alive and regular, do not list it) is lost after the
    /// liveness limit and handed out again; one the heartbeats list is kept.
    @Test func aLeaseTheWorkersHeartbeatsDoNotListIsLost() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let two = Self.storyboard("two", shots: ["a", "b"])
        let job = try client.submit(storyboard: two, source: "two.yaml", priority: 0).job
        let w = try RawPeer(endpoint)
        try w.send(hello("forgetful", slots: 2))
        let first = try #require(try w.next([.assign])), second = try #require(try w.next([.assign]))
        let kept = try first.payload(Assign.self).lease, forgotten = try second.payload(Assign.self).lease
        // Alive and beating, but only `kept` is reported.
        var again: WireMessage?
        let deadline = Date().addingTimeInterval(8)
        while again == nil, Date() < deadline {
            try w.send(WireMessage(.heartbeat, Heartbeat(running: [kept])))
            again = try w.next([.assign], seconds: 0.5)
        }
        let reassigned = try #require(again, "the forgotten lease was never handed out again")
        #expect(try reassigned.payload(Assign.self).lease == Lease(task: forgotten.task, attempt: 2))
        let attempts = try #require(try client.status(job: job).attempts)
        let forgottenKey = String(forgotten.task.split(separator: ":")[1]), keptKey = String(kept.task.split(separator: ":")[1])
        #expect(attempts.filter { $0.key == forgottenKey }.map(\.outcome) == ["lost", nil])
        #expect(attempts.filter { $0.key == keptKey }.map(\.outcome) == [nil])
    }

    /// Counts the denoising steps an engine has completed, across threads.
    final class StepCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var steps = 0
        func add() { lock.withLock { steps += 1 } }
        var count: Int { lock.withLock { steps } }
    }

    struct CountingEngine: Engine {
        let inner: any Engine
        let counter: StepCounter
        var name: String { inner.name }
        var geometry: EngineGeometry { inner.geometry }
        func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
            try inner.generate(task) { step, steps in
                counter.add()
                try progress(step, steps)
            }
        }
        func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents { try inner.anchors(task, progress: progress) }
    }

    /// A real worker stops a cancelled task's engine at its next step rather than computing to the end.
    @Test func cancelStopsTheEngineMidGeneration() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let counter = StepCounter()
        let worker = Worker(configuration: WorkerConfiguration(
            coordinator: endpoint, name: "slow", slots: 1, engines: ["testcard"], device: "cpu", tags: [],
            memoryBytes: 1 << 30, maxFramePixels: 1 << 22,
            engineFactory: { _ in DelayedEngine(CountingEngine(inner: TestCardEngine(), counter: counter), stepDelay: 0.05) },
            encoder: H264ChunkEncoder()))
        let thread = Thread { try? worker.run() }
        thread.start()
        defer { worker.stop() }
        let client = try FarmClient(endpoint: endpoint)
        let slow = Self.storyboard("slow", shots: ["a"], steps: 100)
        let job = try client.submit(storyboard: slow, source: "slow.yaml", priority: 0).job
        let deadline = Date().addingTimeInterval(10)
        while counter.count < 3, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(counter.count >= 3, "the task never started")
        #expect(try client.cancel(job: job).stoppedTasks == 1)
        Thread.sleep(forTimeInterval: 0.5)  // the cancel reaches the worker, the engine ends its current step
        let stopped = counter.count
        Thread.sleep(forTimeInterval: 0.5)
        #expect(counter.count == stopped, "the engine kept generating after the cancel")
        #expect(stopped < 50, "\(stopped) of 100 steps ran")
    }
}
