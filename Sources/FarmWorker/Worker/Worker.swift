import FarmCore
import FarmWire
import Foundation

/// A worker process's service: one thread owns the DEALER socket (register, heartbeats, results); each task runs on
/// a thread of its own. It re-registers by itself when the coordinator goes silent, and drains on request.
public final class Worker: @unchecked Sendable {
    let config: WorkerConfiguration
    private let zmq = ZMQContext()
    private var socket: ZMQSocket?
    private let lock = NSLock()
    private var outbox: [WireMessage] = []
    private var running: [Lease: Bool] = [:]   // lease → cancelled
    private var engines: [String: any Engine] = [:]
    private var draining = false
    private var stopping = false
    private var lastHeard = 0.0
    private var lastBeat = 0.0
    private var sequence: UInt32 = 0
    /// The id the coordinator gave this worker, once welcomed.
    public private(set) var workerID: String?

    public init(configuration: WorkerConfiguration) {
        config = configuration
    }

    static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Finish (or hand back) running tasks, say bye and return from ``run()``.
    public func drain() { lock.withLock { draining = true } }
    /// Return from ``run()`` at once.
    public func stop() { lock.withLock { stopping = true } }

    /// Runs until stopped or drained; call on a thread of its own (it blocks).
    public func run() throws {
        try connect()
        while true {
            let (stop, drain, idle) = lock.withLock { (stopping, draining, running.isEmpty) }
            if stop { break }
            if drain && idle {
                flush()
                send(WireMessage(.bye, Bye(reason: "drained")))
                Thread.sleep(forTimeInterval: 0.05)  // let libzmq hand the bye to the kernel
                break
            }
            if let s = socket, try s.poll(milliseconds: 10) {
                while let frames = try socket?.receive(dontWait: true) { handle(frames) }
            }
            flush()
            let now = Self.clock
            if now - lastBeat >= Double(config.heartbeatMillis) / 1000 {
                lastBeat = now
                // Listed and queued in one step, behind any result already queued: the coordinator never sees a
                // heartbeat without a lease before that lease's result.
                lock.withLock { outbox.append(WireMessage(.heartbeat, Heartbeat(running: Array(running.keys)))) }
                flush()
            }
            if now - lastHeard > Double(config.coordinatorSilenceMillis) / 1000 {
                log("coordinator silent for \(Int(now - lastHeard)) s; reconnecting to \(config.coordinator)")
                try connect()
            }
        }
        socket?.close()
    }

    /// (Re)creates the socket and registers, listing leases still being worked on.
    private func connect() throws {
        socket?.close()
        let s = try ZMQSocket(zmq, .dealer)
        try s.setHighWaterMark(100_000)
        try config.security?.apply(to: s)
        try s.connect(config.coordinator)
        socket = s
        lastHeard = Self.clock
        let hello = Hello(name: config.name, engines: config.engines, device: config.device, slots: config.slots,
                          memoryBytes: config.memoryBytes, maxFramePixels: config.maxFramePixels, tags: config.tags,
                          running: lock.withLock { Array(running.keys) })
        send(WireMessage(.hello, hello))
    }

    private func handle(_ frames: [Data]) {
        lastHeard = Self.clock
        do {
            let m = try WireMessage(frames: frames)
            switch m.command {
            case .welcome:
                let w = try m.payload(Welcome.self)
                workerID = w.workerId
                lock.withLock { for l in w.drop { running[l] = true } }
            case .heartbeat:
                break
            case .assign:
                start(try m.payload(Assign.self), blobs: m.blobs)
            case .cancelTask:
                let c = try m.payload(CancelTask.self)
                lock.withLock { if running[c.lease] != nil { running[c.lease] = true } }
            case .refused:
                let r = try m.payload(Refusal.self)
                if r.kind == .unknownPeer { try connect() } else { log("coordinator refused a message: \(r.kind.rawValue): \(r.message)") }
            default:
                log("unexpected \(m.command) from the coordinator")
            }
        } catch {
            log("bad message from the coordinator: \(error)")
        }
    }

    /// Starts an assigned task on a thread of its own (or hands it back when draining).
    private func start(_ assign: Assign, blobs: [Data]) {
        let lease = assign.lease
        if lock.withLock({ draining }) {
            send(WireMessage(.failed, TaskFailed(lease: lease, reason: "worker is draining", handedBack: true)))
            return
        }
        lock.withLock { running[lease] = false }
        let thread = Thread { [self] in
            let outcome: TaskExecution.Outcome
            do {
                let engine = try engine(for: assign.model)
                outcome = TaskExecution.run(assign, blobs: blobs, engine: engine, encoder: config.encoder) { step, steps in
                    // A cancelled lease stops the engine at its next step instead of running to the end.
                    if self.lock.withLock({ self.running[lease] ?? true }) { throw TaskCancelled(lease: lease) }
                    self.enqueue(WireMessage(.progress, TaskProgress(lease: lease, step: step, steps: steps)))
                }
            } catch {
                outcome = .failure(error)
            }
            finish(lease, outcome)
        }
        thread.name = "reelfarm-task"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func engine(for model: ModelDescription) throws -> any Engine {
        let key = "\(model.engine)|\(model.config ?? "")|\(model.weights ?? "")|\(model.seed)"
        if let e = lock.withLock({ engines[key] }) { return e }
        let e = try config.engineFactory(model.spec)
        lock.withLock { engines[key] = e }
        return e
    }

    /// Queues a finished task's outputs (in pieces) and its result, unless it was cancelled meanwhile.
    private func finish(_ lease: Lease, _ outcome: TaskExecution.Outcome) {
        let messages = Self.report(lease, outcome)
        // The lease leaves `running` in the same step as its report enters the outbox (see the heartbeat); a
        // cancelled lease's report is dropped.
        lock.withLock {
            let cancelled = running.removeValue(forKey: lease) ?? true
            if !cancelled { outbox += messages }
        }
    }

    /// The messages that report a finished task: its outputs (inline when small, else in pieces) and its result,
    /// or the failure.
    private static func report(_ lease: Lease, _ outcome: TaskExecution.Outcome) -> [WireMessage] {
        switch outcome {
        case .success(let outputs):
            var messages: [WireMessage] = []
            var digests: [OutputDigest] = []
            // Small outputs travel inside the result (one message per task); larger ones in pieces first.
            if outputs.reduce(0, { $0 + $1.1.count }) <= WireMessage.pieceBytes {
                for (i, (name, data)) in outputs.enumerated() {
                    digests.append(OutputDigest(output: name, size: data.count, sha256: Digest.sha256(data), blob: i))
                }
                return [WireMessage(.result, TaskResult(lease: lease, outputs: digests), blobs: outputs.map(\.1))]
            }
            for (name, data) in outputs {
                var offset = 0
                repeat {
                    let piece = data[data.startIndex + offset ..< data.startIndex + min(data.count, offset + WireMessage.pieceBytes)]
                    messages.append(WireMessage(.resultPart, ResultPart(lease: lease, output: name, offset: offset, total: data.count),
                                                blobs: [Data(piece)]))
                    offset += piece.count
                } while offset < data.count
                digests.append(OutputDigest(output: name, size: data.count, sha256: Digest.sha256(data)))
            }
            messages.append(WireMessage(.result, TaskResult(lease: lease, outputs: digests)))
            return messages
        case .failure(let error):
            return [WireMessage(.failed, TaskFailed(lease: lease, reason: "\(error)"))]
        }
    }

    private func enqueue(_ m: WireMessage) { lock.withLock { outbox.append(m) } }

    private func flush() {
        let pending = lock.withLock {
            defer { outbox.removeAll() }
            return outbox
        }
        for m in pending { send(m) }
    }

    private func send(_ m: WireMessage) {
        sequence &+= 1
        var m = m
        m.sequence = sequence
        do { try socket?.send(m.frames) } catch { log("send failed: \(error)") }
    }

    func log(_ text: String) {
        FileHandle.standardError.write(Data("reelfarm worker \(config.name): \(text)\n".utf8))
    }
}
