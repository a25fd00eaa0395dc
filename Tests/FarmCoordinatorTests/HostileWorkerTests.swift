import FarmCoordinator
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import FarmTesting
import FarmWire
import FarmWorker
import Foundation
import Testing

/// Peers that lie on the real socket, each way a worker has been seen to (or could) break the farm, while a real
/// worker finishes the job: the coordinator never stops, every bad result is refused with a reason and fails only its
/// own attempt, and the film is byte-identical to the local render.
@Suite(.serialized, .timeLimit(.minutes(3)), .ownThreads) struct HostileWorkerTests {
    static let shots = ["a", "b", "c", "d", "e", "f", "g", "h"]
    static let format = OutputFormat(width: 192, height: 64, fps: Rational(24), sampleRate: 48_000, channels: 1)

    func hello(_ name: String, memory: Int64 = 1 << 30, slots: Int = 1) -> WireMessage {
        WireMessage(.hello, Hello(name: name, engines: ["testcard"], device: "cpu", slots: slots, memoryBytes: memory,
                                  maxFramePixels: 1 << 22, tags: [], running: []))
    }

    /// The honest outputs of an assigned segment: name → bytes.
    func honestOutputs(_ assign: WireMessage) throws -> [(String, Data)] {
        let a = try assign.payload(Assign.self)
        let task = try #require(a.segment).task(blobs: assign.blobs)
        let art = try SegmentRunner(engine: TestCardEngine(), encoder: H264ChunkEncoder()).run(task) { _, _ in }
        return [("chunk", art.chunk.data), ("audio", PCMCodec.encode(art.audio)), ("tail", LatentsCodec.encode(art.tail))]
    }

    /// A result carrying `outputs` inline, with digests that match the bytes (the lie is in the content).
    func result(_ lease: Lease, _ outputs: [(String, Data)]) -> WireMessage {
        WireMessage(.result, TaskResult(lease: lease, outputs: outputs.enumerated().map { i, o in
            OutputDigest(output: o.0, size: o.1.count, sha256: Digest.sha256(o.1), blob: i)
        }), blobs: outputs.map(\.1))
    }

    func replacing(_ outputs: [(String, Data)], _ name: String, with data: Data) -> [(String, Data)] {
        outputs.map { $0.0 == name ? (name, data) : $0 }
    }

    func chunk(frames: Int, fps: Rational = Rational(24)) throws -> Data {
        var f = Self.format
        f.fps = fps
        return try H264ChunkEncoder().encode(VideoFrames(width: 192, height: 64, count: frames), format: f).data
    }

    func latents(steps: Int, channels: Int = 8, value: Float = 0) -> Data {
        LatentsCodec.encode(Latents(video: LatentTensor(shape: [steps, channels, 1, 1],
                                                        values: [Float](repeating: value, count: steps * channels)),
                                    audio: LatentTensor(shape: [steps, 0])))
    }

    /// One lie about a task's result: what to send and what the refusal must say.
    struct Lie {
        var name: String
        var kind: WireError.Kind = .badResult
        var says: String
        var make: (Lease, [(String, Data)], Assign) throws -> WireMessage
    }

    var lies: [Lie] {
        [
            Lie(name: "an output it does not expect", says: "unexpected [\"foo\"]") { lease, o, _ in
                result(lease, o + [("foo", Data([1, 2, 3]))])
            },
            Lie(name: "no outputs", says: "missing") { lease, _, _ in result(lease, []) },
            Lie(name: "no tail", says: "missing [\"tail\"]") { lease, o, _ in result(lease, o.filter { $0.0 != "tail" }) },
            Lie(name: "tail one step long", says: "latent steps") { lease, o, a in
                result(lease, replacing(o, "tail", with: latents(steps: a.segment!.tailLatents + 1)))
            },
            Lie(name: "tail of another layout", says: "layout") { lease, o, a in
                result(lease, replacing(o, "tail", with: latents(steps: a.segment!.tailLatents, channels: 7)))
            },
            Lie(name: "chunk with a bad CRC", says: "checksum") { lease, o, _ in
                var c = o.first { $0.0 == "chunk" }!.1
                c[c.count - 1] ^= 0xFF
                return result(lease, replacing(o, "chunk", with: c))
            },
            Lie(name: "chunk one frame short", says: "holds 19 frames") { lease, o, _ in
                result(lease, replacing(o, "chunk", with: try chunk(frames: 19)))
            },
            Lie(name: "chunk at 25 fps", says: "25 fps") { lease, o, _ in
                result(lease, replacing(o, "chunk", with: try chunk(frames: 20, fps: Rational(25))))
            },
            Lie(name: "PCM one sample short", says: "expected") { lease, o, _ in
                result(lease, replacing(o, "audio", with: o.first { $0.0 == "audio" }!.1.dropLast(4)))
            },
            Lie(name: "PCM one sample long", says: "expected") { lease, o, _ in
                result(lease, replacing(o, "audio", with: o.first { $0.0 == "audio" }!.1 + Data(count: 4)))
            },
            Lie(name: "bytes that do not match the digest", kind: .badPayload, says: "announced") { lease, o, _ in
                var m = result(lease, o)
                m.blobs[1][0] ^= 0xFF
                return m
            },
            Lie(name: "an output listed twice", says: "twice") { lease, o, _ in result(lease, o + [o[0]]) },
        ]
    }

    @Test func liarsFailOnlyTheirOwnAttemptsAndTheFilmIsTheLocalOne() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let text = CoordinatorProtocolTests.storyboard("hostile", shots: Self.shots)
        let job = try client.submit(storyboard: text, source: "hostile.yaml", priority: 0).job

        // Messages that are no result at all: refused, nothing stored, no attempt charged.
        let probe = try RawPeer(endpoint)
        try probe.send(hello("probe", memory: -1))
        #expect(try probe.next([.refused]).map { try $0.payload(Refusal.self).message }?.contains("memory_bytes") == true)
        try probe.send(WireMessage(.hello, Hello(name: "probe", engines: [], device: "quantum", slots: 0, memoryBytes: 1,
                                                 maxFramePixels: 0, tags: [], running: [])))
        #expect(try probe.next([.refused]).map { try $0.payload(Refusal.self).kind } == .badPayload)
        try probe.sendRaw([Data](repeating: Data(), count: 1_000))
        #expect(try probe.next([.refused]).map { try $0.payload(Refusal.self).kind } == .malformed)
        try probe.send(hello("probe"))
        let held = try #require(try probe.next([.assign]))
        let heldLease = try held.payload(Assign.self).lease
        for (step, steps) in [(-1, 4), (99, 4), (0, 0)] {
            try probe.send(WireMessage(.progress, TaskProgress(lease: heldLease, step: step, steps: steps)))
            #expect(try probe.next([.refused]).map { try $0.payload(Refusal.self).kind } == .badPayload, "progress \(step)/\(steps)")
        }
        let never = Lease(task: "\(job):nope/0", attempt: 1)
        try probe.send(result(never, []))
        #expect(try probe.next([.refused]).map { try $0.payload(Refusal.self).kind } == .stale)
        // `status` still answers after the bad progress (it crashed on a negative step once).
        _ = try client.status(job: job)
        // 5 000 tiny pieces of an honest chunk: accepted in linear time, and the result counts.
        let outputs = try probe.beating { try self.honestOutputs(held) }
        let chunkBytes = outputs[0].1
        let piece = max(1, chunkBytes.count / 5_000)
        var offset = 0
        while offset < chunkBytes.count {
            let end = min(chunkBytes.count, offset + piece)
            try probe.send(WireMessage(.resultPart, ResultPart(lease: heldLease, output: "chunk", offset: offset,
                                                               total: chunkBytes.count), blobs: [chunkBytes[offset..<end]]))
            offset = end
        }
        var digests = [OutputDigest(output: "chunk", size: chunkBytes.count, sha256: Digest.sha256(chunkBytes))]
        digests += outputs.dropFirst().enumerated().map { i, o in
            OutputDigest(output: o.0, size: o.1.count, sha256: Digest.sha256(o.1), blob: i)
        }
        try probe.send(WireMessage(.result, TaskResult(lease: heldLease, outputs: digests), blobs: outputs.dropFirst().map(\.1)))
        let pieced = try waitFor(client, job: job, seconds: 30) {
            $0.tasks?.first { "\(job):\($0.key)" == heldLease.task }?.state == "done"
        }
        #expect(pieced.tasks?.first { "\(job):\($0.key)" == heldLease.task }?.state == "done")
        try probe.send(WireMessage(.bye, Bye(reason: "done probing")))

        // Each lie from a liar of its own (a worker failing two tasks of a job is not given it again); a task already
        // failed twice is answered honestly, so no lie can fail the job.
        var failedAttempts: [String: Int] = [:]
        var told = 0
        for (i, lie) in lies.enumerated() {
            var done = false
            for round in 0..<4 where !done {
                let liar = try RawPeer(endpoint)
                try liar.send(hello("liar\(i)-\(round)"))
                let assign = try #require(try liar.next([.assign]), "no task for the liar of \(lie.name)")
                let a = try assign.payload(Assign.self)
                let honest = try liar.beating { try self.honestOutputs(assign) }
                if failedAttempts[a.lease.task, default: 0] >= 2 {
                    try liar.send(result(a.lease, honest))
                } else {
                    try liar.send(try lie.make(a.lease, honest, a))
                    let refusal = try #require(try liar.next([.refused]), "\(lie.name): not refused").payload(Refusal.self)
                    #expect(refusal.kind == lie.kind, "\(lie.name): \(refusal.kind)")
                    #expect(refusal.message.contains(lie.says), "\(lie.name): \(refusal.message)")
                    failedAttempts[a.lease.task, default: 0] += 1
                    told += 1
                    done = true
                }
                try liar.send(WireMessage(.bye, Bye(reason: "lied")))
            }
        }
        #expect(told == lies.count)

        // The coordinator still serves; a real worker finishes the job.
        let worker = startTestCardWorker(endpoint)
        defer { worker.stop() }
        let status = try waitFor(client, job: job, seconds: 60)
        #expect(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")")
        let failed = status.attempts?.filter { $0.outcome == "failed" }.count ?? 0
        #expect(failed == lies.count)
        #expect((try client.workers().refused["bad-result"] ?? 0) >= lies.count - 1)
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(text))
    }
}
