import FarmCore
import FarmStore
import FarmWire
import FarmPosix
import Foundation

/// `reelfarm bench dispatch`: how fast the coordinator turns ready tasks into started ones, with its durable
/// store in the loop, next to the raw ZeroMQ round-trip rate measured in the same run.
///
/// A job of many shots cut into chains of tiny segments runs on in-process workers whose tasks do nothing but
/// return a minimal valid tail, so every dispatch pays the real path: SQLite commit of the lease, task building,
/// ZeroMQ send; every result pays digest checks, artifact store and the commit that readies the next segment.
/// Latency is from the moment a task became ready (its dependency's result committed) to a worker receiving it.
public struct DispatchBenchmark: Sendable {
    public var shots: Int
    public var segmentsPerShot: Int
    public var workers: Int
    public var slots: Int
    public var pingPongs: Int
    /// CURVE on every socket (the round-trip measurement too).
    public var curve = false
    /// Run the no-op workers as processes of this executable (`reelfarm bench noop-worker`) instead of threads.
    public var workerExecutable: URL?

    public init(shots: Int = 1_000, segmentsPerShot: Int = 20, workers: Int = 4, slots: Int = 256, pingPongs: Int = 20_000) {
        self.shots = shots
        self.segmentsPerShot = segmentsPerShot
        self.workers = workers
        self.slots = slots
        self.pingPongs = pingPongs
    }

    public struct Result: Sendable, CustomStringConvertible {
        public var tasks: Int
        public var seconds: Double
        public var latencies: [Double]
        public var roundTripsPerSecond: Double
        /// Microseconds to encode one `assign` and to decode one `result`, for the breakdown.
        public var codecMicros: (assign: Double, result: Double)
        /// The coordinator loop's time while the tasks ran, and the wall-clock seconds it covers.
        public var loop: LoopStats
        public var loopSeconds: Double
        public var curve: Bool
        public var dispatchesPerSecond: Double { Double(tasks) / seconds }
        func percentile(_ p: Double) -> Double {
            let s = latencies.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
        }

        public var description: String {
            [
                String(format: "tasks              %d no-op segments (chains of dependent tasks), durable SQLite state", tasks)
                    + (curve ? ", CURVE on every socket" : ""),
                String(format: "dispatch rate      %.0f dispatches/s (%.2f s for all)", dispatchesPerSecond, seconds),
                String(format: "ready → started    p50 %.3f ms, p99 %.3f ms", percentile(0.5) * 1000, percentile(0.99) * 1000),
                String(format: "raw ZeroMQ         %.0f round trips/s (DEALER↔ROUTER, tcp loopback, one at a time)", roundTripsPerSecond),
                String(format: "ratio              %.2f dispatches per raw round trip", dispatchesPerSecond / roundTripsPerSecond),
                String(format: "codec cost         %.1f µs to encode an assign, %.1f µs to decode a result (JSON metadata)",
                       codecMicros.assign, codecMicros.result),
                String(format: "coordinator loop   %d iterations, %.0f messages each; per task: ", loop.iterations,
                       Double(loop.messages) / Double(max(1, loop.iterations)))
                    + LoopStats.Phase.allCases.map {
                        String(format: "%@ %.1f µs", $0.name, Double(loop.nanos[$0.rawValue]) / 1000 / Double(max(1, loop.results)))
                    }.joined(separator: ", ")
                    + String(format: " (busy %.0f%% of that time)", Double(loop.nanos.reduce(0, +)) / 1e9 / loopSeconds * 100),
            ].joined(separator: "\n")
        }
    }

    public func run(log: (String) -> Void) throws -> Result {
        let server = curve ? try CurveKeyPair.generate() : nil
        let security = server.map { CurveClientSecurity(serverKey: $0.publicKey) }
        let rtt = try Self.pingPong(count: pingPongs, server: server)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-bench-dispatch-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = CoordinatorConfiguration(
            dataDirectory: dir, bind: "tcp://127.0.0.1:*",
            geometry: { _ in EngineGeometry(latentChannels: 8, maxWindow: 1025) }, assembler: NoFilm())
        config.log = { _ in }
        config.curve = server
        let coordinator = try Coordinator(configuration: config)
        let endpoint = try coordinator.start()
        defer { coordinator.stop(); coordinator.wait() }

        let recorder = Recorder()
        var threads: [Thread] = []
        var processes: [(ChildProcess, URL)] = []
        let stop = Flag()
        for i in 0..<workers {
            if let exe = workerExecutable {
                let times = dir.appendingPathComponent("worker-\(i).times")
                let p = try ChildProcess(exe, ["bench", "noop-worker", "--coordinator", endpoint, "--name", "bench-\(i)", "--slots", "\(slots)",
                               "--times", times.path] + (server.map { ["--coordinator-key", $0.publicKey] } ?? []))
                processes.append((p, times))
                continue
            }
            let t = Thread {
                Self.noopWorker(endpoint: endpoint, name: "bench-\(i)", slots: slots, security: security, recorder: recorder, stop: stop)
            }
            t.start()
            threads.append(t)
        }
        defer { for (p, _) in processes { p.send(SIGKILL) } }
        let text = Self.noopStoryboard(title: "dispatch benchmark", shots: shots, segmentsPerShot: segmentsPerShot)
        Thread.sleep(forTimeInterval: processes.isEmpty ? 0.3 : 1.5)  // let the workers register
        let client = try FarmClient(endpoint: endpoint, timeoutMillis: 60_000, security: security)
        log("bench dispatch: submitting \(shots) shots × \(segmentsPerShot) segments")
        let job = try client.submit(storyboard: text, source: "bench", priority: 0).job
        let total = shots * segmentsPerShot
        let deadline = Date().addingTimeInterval(600)
        // Published before the reply left, so the submit is not in the breakdown; results recorded before this
        // snapshot are not either, hence per-task figures divide by the results counted in between.
        let before = coordinator.loopStats, from = Date()
        while coordinator.loopStats.results < total && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        let loop = coordinator.loopStats.since(before), loopSeconds = Date().timeIntervalSince(from)
        stop.set()
        for _ in threads { Thread.sleep(forTimeInterval: 0.01) }
        for (p, times) in processes {
            p.send(SIGTERM)
            p.waitUntilExit()
            for line in ((try? String(contentsOf: times, encoding: .utf8)) ?? "").split(separator: "\n") {
                let parts = line.split(separator: "\t")
                if parts.count == 2, let at = Double(parts[1]) { recorder.add(String(parts[0]), at) }
            }
        }
        let received = recorder.all()
        guard received.count >= total else {
            throw BenchError(description: "only \(received.count) of \(total) tasks were dispatched")
        }
        let ready = try FarmStore(directory: dir).readyTimes(job: job)
        let latencies = received.compactMap { r in ready[r.key].map { max(0, r.at - $0) } }
        let first = received.map(\.at).min()!, last = received.map(\.at).max()!
        return Result(tasks: total, seconds: last - first, latencies: latencies, roundTripsPerSecond: rtt,
                      codecMicros: try Self.codecCost(), loop: loop, loopSeconds: loopSeconds, curve: curve)
    }

    /// Times the JSON codec on the two messages every task costs the coordinator most.
    static func codecCost() throws -> (assign: Double, result: Double) {
        let brief = ShotBrief(index: 0, id: "s0", prompt: "p", camera: "", sound: "", cues: [], frames: TimeRange(0, 85))
        let task = SegmentTask(id: "s0/3", shot: brief, index: 3, format: OutputFormat(width: 192, height: 64, fps: Rational(24), sampleRate: 48_000, channels: 1),
                               generate: TimeRange(12, 21), own: TimeRange(17, 21), samples: TimeRange(34_000, 42_000),
                               pins: [LatentPin(latentIndex: 0, latents: Latents(video: LatentTensor(shape: [2, 8, 1, 1]), audio: LatentTensor(shape: [2, 0])))],
                               seed: 1, steps: 1, tailLatents: 2)
        let model = ModelDescription(ModelSpec(engine: "noop", window: 9, overlap: 5, steps: 1, seed: 1, schedule: .chain))
        let lease = Lease(task: "j0123456789:s0/3", attempt: 1)
        let n = 2_000
        var start = Date()
        for _ in 0..<n {
            let (d, blobs) = SegmentDescription.make(task)
            _ = WireMessage.assign(Assign(lease: lease, model: model, segment: d, anchors: nil), blobs: blobs).frames
        }
        let assign = Date().timeIntervalSince(start) / Double(n) * 1e6
        let result = WireMessage(.result, TaskResult(lease: lease, outputs: [OutputDigest(output: "tail", size: 100, sha256: String(repeating: "a", count: 64))]))
        start = Date()
        for _ in 0..<n { _ = try WireMessage(frames: result.frames).payload(TaskResult.self) }
        return (assign, Date().timeIntervalSince(start) / Double(n) * 1e6)
    }

    struct BenchError: Error, CustomStringConvertible { var description: String }

    /// An assembler for a job whose segments produce no picture: the benchmark measures dispatch only. Its
    /// "chunks" are 16 bytes (width, height, frame count, integer fps; UInt32 little-endian), which ``inspect(_:)``
    /// reads, so every result still goes through the coordinator's checks as a real one does.
    struct NoFilm: FilmAssembler {
        func assemble(_ parts: some FilmParts, format: OutputFormat, to output: URL) throws {}

        func inspect(_ chunk: EncodedChunk) throws -> ChunkSummary {
            var r = ByteReader(chunk.data)
            guard let w = r.u32(), let h = r.u32(), let n = r.u32(), let fps = r.u32(), r.remaining == 0 else {
                throw BenchError(description: "not a no-op chunk")
            }
            return ChunkSummary(width: Int(w), height: Int(h), fps: Rational(Int64(fps)), frameCount: Int(n), parameters: Data())
        }

        static func chunk(frames: Int) -> Data {
            var d = Data()
            for v in [UInt32(192), 64, UInt32(frames), 24] { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
    }

    public final class Flag: @unchecked Sendable {
        public init() {}
        private let lock = NSLock()
        private var on = false
        public func set() { lock.withLock { on = true } }
        public var isSet: Bool { lock.withLock { on } }
    }

    /// When each task reached a worker: its key and the wall-clock time.
    public final class Recorder: @unchecked Sendable {
        public init() {}
        private let lock = NSLock()
        private var items: [(key: String, at: Double)] = []
        public func add(_ key: String, _ at: Double) { lock.withLock { items.append((key, at)) } }
        public var count: Int { lock.withLock { items.count } }
        public func all() -> [(key: String, at: Double)] { lock.withLock { items } }
    }

    /// A worker that answers every task at once with a zero tail of the right size.
    public static func noopWorker(endpoint: String, name: String, slots: Int, security: CurveClientSecurity?, recorder: Recorder,
                                  stop: Flag) {
        do {
            let zmq = ZMQContext()
            let s = try ZMQSocket(zmq, .dealer)
            try s.setHighWaterMark(1_000_000)
            try security?.apply(to: s)
            try s.connect(endpoint)
            try s.send(WireMessage(.hello, Hello(name: name, engines: ["noop"], device: "cpu", slots: slots, memoryBytes: 1 << 30,
                                                 maxFramePixels: 1 << 22, tags: [], running: [])).frames)
            var lastBeat = Date()
            var made: [String: (Data, String)] = [:]
            func output(_ key: String, _ make: () -> Data) -> (Data, String) {
                if let o = made[key] { return o }
                let d = make(), o = (d, Digest.sha256(d))
                made[key] = o
                return o
            }
            while !stop.isSet {
                if Date().timeIntervalSince(lastBeat) > 0.5 {
                    try s.send(WireMessage(.heartbeat, Heartbeat()).frames)
                    lastBeat = Date()
                }
                guard try s.poll(milliseconds: 20) else { continue }
                while let frames = try s.receive(dontWait: true) {
                    let m = try WireMessage(frames: frames)
                    guard m.command == .assign else { continue }
                    let now = Date().timeIntervalSince1970
                    // A no-op task needs only its lease and how many tail steps to return: the load generator reads
                    // just those (a real worker decodes the whole `Assign`).
                    let a = try WireValue.parse(m.meta)
                    let lease = try Lease(wire: try a.field("lease", of: "assign"))
                    recorder.add(String(lease.task.split(separator: ":", maxSplits: 1)[1]), now)
                    guard let segment = try a.optionalField("segment", of: "assign") else { continue }
                    let steps = try segment.int("tail_latents", of: "segment")
                    let own = try segment.intPair("own", of: "segment"), samples = try segment.intPair("samples", of: "segment")
                    let tail = output("t\(steps)") {
                        LatentsCodec.encode(Latents(video: LatentTensor(shape: [steps, 8, 1, 1]), audio: LatentTensor(shape: [steps, 0])))
                    }
                    let chunk = output("c\(own.1 - own.0)") { NoFilm.chunk(frames: own.1 - own.0) }
                    let audio = output("a\(samples.1 - samples.0)") { Data(count: 4 * (samples.1 - samples.0)) }
                    try s.send(WireMessage(.result, TaskResult(lease: lease, outputs: [
                        OutputDigest(output: "audio", size: audio.0.count, sha256: audio.1, blob: 0),
                        OutputDigest(output: "chunk", size: chunk.0.count, sha256: chunk.1, blob: 1),
                        OutputDigest(output: "tail", size: tail.0.count, sha256: tail.1, blob: 2),
                    ]), blobs: [audio.0, chunk.0, tail.0]).frames)
                }
            }
        } catch {
            FileHandle.standardError.write(Data("bench worker \(name): \(error)\n".utf8))
        }
    }

    /// Sequential DEALER → ROUTER → DEALER round trips over tcp loopback, per second. The ROUTER lives on a thread
    /// of its own (each socket is owned by one thread).
    static func pingPong(count: Int, server: CurveKeyPair?) throws -> Double {
        let zmq = ZMQContext()
        let ready = DispatchSemaphore(value: 0)
        let endpoint = Box()
        let echo = Thread {
            do {
                let router = try ZMQSocket(zmq, .router)
                if let server { try router.makeCurveServer(server) }
                try router.bind("tcp://127.0.0.1:*")
                endpoint.set(try router.lastEndpoint)
                ready.signal()
                for _ in 0..<count {
                    guard let f = try router.receive() else { return }
                    try router.send(f)
                }
            } catch {
                endpoint.set("")
                ready.signal()
            }
        }
        echo.start()
        ready.wait()
        let dealer = try ZMQSocket(zmq, .dealer)
        if let server { try CurveClientSecurity(serverKey: server.publicKey).apply(to: dealer) }
        try dealer.connect(endpoint.value)
        let payload = WireMessage(.heartbeat, Heartbeat()).frames
        try dealer.send(payload)  // warm the connection
        _ = try dealer.receive()
        let start = Date()
        for _ in 1..<count {
            try dealer.send(payload)
            _ = try dealer.receive()
        }
        return Double(count - 1) / Date().timeIntervalSince(start)
    }

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func set(_ t: String) { lock.withLock { text = t } }
        var value: String { lock.withLock { text } }
    }
}

extension WireValue {
    /// The `[a, b]` integer pair at `key` (a range in an `assign`).
    fileprivate func intPair(_ key: String, of type: String) throws(WireError) -> (Int, Int) {
        let a = try array(key, of: type)
        guard a.count == 2, case .number(_, let lower?) = a[0], case .number(_, let upper?) = a[1], lower <= upper else {
            throw WireError(.badPayload, "\(type).\(key) is not a range [a, b]")
        }
        return (lower, upper)
    }
}

extension DispatchBenchmark {
    /// A storyboard of `shots` independent chains of `segmentsPerShot` dependent no-op segments (window 9, overlap 5:
    /// the first segment owns 9 frames, each later one 4), for the benchmarks that need many cheap tasks.
    static func noopStoryboard(title: String, shots: Int, segmentsPerShot: Int) -> String {
        let frames = 9 + 4 * (segmentsPerShot - 1)
        var text = """
            title: \(title)
            output: {width: 192, height: 64, fps: "24", sample_rate: 8000, channels: 1}
            model: {engine: noop, window: 9, overlap: 5, steps: 1, seed: 1, schedule: chain}
            shots:

            """
        for s in 0..<shots { text += "  - {id: s\(s), frames: \(frames), prompt: p}\n" }
        return text
    }
}
