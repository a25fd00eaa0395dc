import FarmCore
import FarmEngineHost
import FarmTestCard
import FarmTesting
import FarmWire
import Foundation
import Testing

/// The worker's side of the engine-process contract against real processes: the Swift engines served by
/// `reelfarm engine serve`, and hostile engines (small Python scripts) that break every rule a worker relies on.
@Suite(.serialized, .timeLimit(.minutes(3)), .ownThreads) struct EngineProcessTests {
    let format = OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48_000, channels: 2)

    func task(_ generate: TimeRange, own: TimeRange? = nil, pins: [LatentPin] = [], id: String = "t", tail: Int = 3) -> SegmentTask {
        let own = own ?? generate
        return SegmentTask(id: id, shot: ShotBrief(index: 0, id: "s0", prompt: "p", camera: "", sound: "hum", cues: [],
                                                   frames: TimeRange(0, 1000)),
                           index: 0, format: format, generate: generate, own: own, samples: format.clock.samples(forFrames: own),
                           pins: pins, seed: 5, steps: 3, tailLatents: tail)
    }

    func settings(start: Double = 30, silence: Double = 30, log: @escaping @Sendable (String) -> Void = { _ in }) -> EngineHostSettings {
        var s = EngineHostSettings()
        s.startSeconds = start
        s.silenceSeconds = silence
        s.cancelSeconds = 5
        s.exitSeconds = 5
        s.log = log
        return s
    }

    func served(_ extra: String = "", slots: Int = 1, log: @escaping @Sendable (String) -> Void = { _ in }) throws -> (EngineProcessPool, EngineGeometry) {
        let command = try EngineCommand(parsing: "testcard=\(TestPaths.reelfarm.path) engine serve testcard \(extra)")
        let pool = EngineProcessPool(command: command, slots: slots, settings: settings(log: log))
        let (_, geometry) = try pool.warmUp()
        return (pool, geometry)
    }

    let model = ModelDescription(ModelSpec(engine: "testcard", window: 33, overlap: 9, steps: 3, seed: 5, schedule: .chain))

    @Test func theServedTestCardAnswersExactlyAsTheInProcessOne() throws {
        let (pool, geometry) = try served()
        defer { pool.stop() }
        #expect(geometry == TestCardEngine().geometry)
        let engine = ProcessEngine(pool: pool, geometry: geometry, model: model)
        let first = task(TimeRange(0, 33), tail: 3)
        let steps = Counter()
        let out = try engine.generate(first) { _, _ in steps.add() }
        let expected = try TestCardEngine().generate(first) { _, _ in }
        #expect(out.frames == expected.frames)
        #expect(out.audio == expected.audio)
        #expect(out.tail == expected.tail)
        #expect(steps.value == 3)
        // A following segment pinned on that tail, through the same warm process.
        let pid = pool.pids.first
        let next = task(TimeRange(24, 57), own: TimeRange(33, 57), pins: [LatentPin(latentIndex: 0, latents: out.tail)], id: "t2")
        let (a, b) = (try engine.generate(next) { _, _ in }, try TestCardEngine().generate(next) { _, _ in })
        // Only the tail of the latents crosses the contract.
        #expect(a.frames == b.frames && a.audio == b.audio && a.tail == b.tail)
        #expect(pool.pids.first == pid, "the process stayed warm")
        // An anchor pass too.
        let anchors = AnchorTask(id: "a", shot: first.shot, format: format, frames: [0, 10, 20], start: nil, seed: 5, steps: 2)
        #expect(try engine.anchors(anchors) { _, _ in } == (try TestCardEngine().anchors(anchors) { _, _ in }))
    }

    @Test func aCancelledTaskStopsAndTheProcessTakesTheNext() throws {
        let (pool, geometry) = try served("--step-delay-ms 50")
        defer { pool.stop() }
        let engine = ProcessEngine(pool: pool, geometry: geometry, model: model)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            _ = try engine.generate(task(TimeRange(0, 33))) { done, _ in if done >= 1 { throw Stop() } }
        }
        let pid = pool.pids.first
        _ = try engine.generate(task(TimeRange(0, 9))) { _, _ in }
        #expect(pool.pids.first == pid, "a cancel does not cost the process")
    }

    @Test func aKilledEngineFailsItsTaskAndIsStartedAgain() throws {
        let lines = Lines()
        let (pool, geometry) = try served("--step-delay-ms 100", log: { lines.add($0) })
        defer { pool.stop() }
        let engine = ProcessEngine(pool: pool, geometry: geometry, model: model)
        let victim = try #require(pool.pids.first.flatMap { $0 })
        let error = #expect(throws: EngineProcessError.self) {
            _ = try engine.generate(task(TimeRange(0, 33))) { done, _ in if done == 1 { kill(victim, SIGKILL) } }
        }
        #expect(error?.description.contains("killed by signal 9") == true, "\(String(describing: error))")
        let out = try engine.generate(task(TimeRange(0, 9))) { _, _ in }
        #expect(out.frames.count == 9)
        #expect(pool.pids.first != victim)
        #expect(lines.all.contains { $0.contains("ready in") })
    }

    // MARK: hostile engines

    /// A Python engine (stdlib only) whose behaviour after the handshake is `body`.
    func hostile(_ name: String, ready: String = "ok", body: String) throws -> EngineCommand {
        let script = """
            import json, struct, sys, os, time
            out = os.fdopen(os.dup(1), "wb", buffering=0); os.dup2(2, 1)
            inp = os.fdopen(0, "rb", buffering=0)
            def send(kind, meta, blobs=()):
                m = json.dumps(meta).encode()
                out.write(struct.pack("<4sBBHII", b"RFEP", 1, kind, 0, len(m), len(blobs)) + m)
                for b in blobs: out.write(struct.pack("<Q", len(b)) + b)
            def read_exact(n):
                b = b""
                while len(b) < n:
                    c = inp.read(n - len(b))
                    if not c: sys.exit(0)
                    b += c
                return b
            def receive():
                magic, v, kind, z, m, n = struct.unpack("<4sBBHII", read_exact(16))
                meta = json.loads(read_exact(m)); blobs = []
                for i in range(n):
                    (k,) = struct.unpack("<Q", read_exact(8)); blobs.append(read_exact(k))
                return kind, meta, blobs
            geometry = {"temporal_stride": 4, "causal": True, "spatial_stride": 8, "spatial_multiple": 1, "latent_channels": 8,
                        "max_window": 1025, "step_layout": {"spatial": False, "audio": [0]}, "native_audio_rate": None}
            READY = {"contract": 1, "engine": "\(name)", "version": "hostile", "device": "cpu", "device_memory_bytes": 1, "geometry": geometry}
            mode = "\(ready)"
            if mode == "ok": send(1, READY)
            elif mode == "junk": out.write(b"hello, world\\n" * 4)
            elif mode == "silent": time.sleep(60)
            elif mode == "wrong-name": send(1, dict(READY, engine="other"))
            elif mode == "bad-geometry": send(1, dict(READY, geometry=dict(geometry, max_window=10)))
            while True:
                kind, meta, blobs = receive()
                task = meta.get("segment", {}).get("id", "?")
            \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """
        let dir = try TestPaths.temporaryDirectory("hostile")
        let url = dir.appendingPathComponent("engine.py")
        try script.write(to: url, atomically: true, encoding: .utf8)
        return EngineCommand(name: name, words: ["python3", url.path])
    }

    func run(_ command: EngineCommand, start: Double = 20, silence: Double = 20) throws -> any Error {
        let pool = EngineProcessPool(command: command, slots: 1, settings: settings(start: start, silence: silence))
        defer { pool.stop() }
        do {
            let (_, geometry) = try pool.warmUp()
            let engine = ProcessEngine(pool: pool, geometry: geometry, model: model)
            _ = try engine.generate(task(TimeRange(0, 9))) { _, _ in }
        } catch {
            return error
        }
        Issue.record("the hostile engine was accepted")
        return EngineProcessError("accepted")
    }

    @Test func handshakesThatBreakTheContractAreRefused() throws {
        let cases: [(String, Double, String)] = [
            ("junk", 20, "does not start with RFEP"),
            ("silent", 1, "before the deadline"),
            ("wrong-name", 20, "was started as"),
            ("bad-geometry", 20, "max_window 10"),
        ]
        for (mode, start, expected) in cases {
            let error = try run(try hostile("h", ready: mode, body: "pass"), start: start)
            #expect("\(error)".contains(expected), "\(mode): \(error)")
        }
    }

    @Test func resultsThatDoNotFitTheTaskAreRefused() throws {
        // 9 frames of 320×192 RGB and 9 frames' samples (18 000 × 2 Float32); a valid 3-step tail of the test card.
        let tail = "b'RFLT' + struct.pack('<I', 1) + struct.pack('<I', 4) + struct.pack('<4q', 3, 8, 1, 1) + bytes(96) + struct.pack('<I', 2) + struct.pack('<2q', 3, 0)"
        let frames = "bytes(9 * 320 * 192 * 3)", audio = "bytes(18000 * 2 * 4)"
        let cases: [(String, String)] = [
            ("send(5, {'task': task}, [\(tail), bytes(10), \(audio)])", "frames blob has 10 bytes"),
            ("send(5, {'task': task}, [\(tail), \(frames), bytes(8)])", "audio blob has 8 bytes"),
            ("send(5, {'task': task}, [\(tail), \(frames)])", "carries 2 blobs"),
            ("send(5, {'task': 'someone-else'}, [])", "the running task is t"),
            ("send(5, {'task': task}, [b'RFLT' + bytes(4), \(frames), \(audio)])", "tail"),
            ("send(5, {'task': task}, [\(tail.replacingOccurrences(of: "bytes(96)", with: "struct.pack('<f', float('nan')) * 24")), \(frames), \(audio)])", "not finite"),
            ("send(4, {'task': task, 'done': 5, 'total': 2})", "done ≤ total"),
            ("out.write(struct.pack('<4sBBHII', b'RFEP', 1, 5, 0, 2, 1) + b'{}' + struct.pack('<Q', 1 << 40))", "more than this message may carry"),
            ("out.write(b'RFEP' + bytes([2]) + bytes(11))", "contract version 2"),
            ("send(99, {})", "unknown message kind 99"),
            ("os.kill(os.getpid(), 9)", "killed by signal 9"),
            ("sys.exit(3)", "exited with status 3"),
            ("send(6, {'task': task, 'message': 'CUDA out of memory'})", "CUDA out of memory"),
        ]
        for (body, expected) in cases {
            let error = try run(try hostile("h", body: body))
            #expect("\(error)".contains(expected), "\(body): \(error)")
        }
    }

    @Test func aSilentEngineIsKilledAtItsDeadline() throws {
        let error = try run(try hostile("h", body: "time.sleep(60)"), silence: 1)
        #expect("\(error)".contains("before the deadline"), "\(error)")
    }

    @Test func commandsParse() throws {
        let c = try EngineCommand(parsing: "ltx2=python3 -m reelfarm_engines ltx2 --weights '/models/LTX 2' --device cuda:{slot}")
        #expect(c.name == "ltx2")
        #expect(c.words(slot: 1) == ["python3", "-m", "reelfarm_engines", "ltx2", "--weights", "/models/LTX 2", "--device", "cuda:1"])
        for bad in ["no-equals", "=cmd", "Bad Name=cmd", "x=", "x='open"] {
            #expect(throws: EngineContractError.self, "\(bad)") { _ = try EngineCommand(parsing: bad) }
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}
