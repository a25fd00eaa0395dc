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
    /// How long without any message before the coordinator counts as silent: the configured value until a `welcome`
    /// says how often the coordinator beats (2.5 of its periods).
    private lazy var silenceSeconds = Double(config.coordinatorSilenceMillis) / 1000
    private var lastBeat = 0.0
    private var sequence: UInt32 = 0
    /// Messages the socket had no room for (no completed connection yet): sent first, in order, once it has.
    private var stalled: [WireMessage] = []
    private var monitor: HandshakeMonitor?
    /// The last handshake failure logged, and when, so that a refused worker says so once, not every retry.
    private var lastRefusal: (text: String, at: Double)?
    private var drainDeadline: Double?
    /// When a new socket is made for a coordinator that stays silent.
    private var reconnect = ReconnectBackoff()
    private var lastHello = -Double.infinity
    /// Whether the current socket ever completed a handshake (for what the silence message says).
    private var handshook = false
    /// Chosen once per process: the coordinator keeps this worker's id across reconnects and its own restarts.
    public let instance: String = (0..<4).map { _ in
        let v = UInt32.random(in: .min ... .max)
        let hex = String(v, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }.joined()
    /// The id the coordinator gave this worker, once welcomed.
    public private(set) var workerID: String?

    public init(configuration: WorkerConfiguration) {
        config = configuration
    }

    static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Finish (or hand back) running tasks, say bye and return from ``run()``.
    public func drain() { lock.withLock { draining = true } }
    /// Asked by the coordinator (`drain`): like ``drain()``, but running tasks are finished however long they take.
    private var drainUntilDone = false
    /// Return from ``run()`` at once.
    public func stop() { lock.withLock { stopping = true } }

    /// Runs until stopped or drained; call on a thread of its own (it blocks).
    public func run() throws {
        try connect()
        while true {
            let (stop, drain, idle) = lock.withLock { (stopping, draining, running.isEmpty) }
            if stop { break }
            if drain {
                let now = Self.clock
                if drainDeadline == nil {
                    drainDeadline = drainUntilDone ? .infinity : now + Double(config.drainMillis) / 1000
                }
                // Nobody to report to, or running too long: hand back what still runs and leave.
                let unreachable = now - lastHeard > silenceSeconds
                if !idle && (unreachable || now >= drainDeadline ?? now) { handBackRunning(unreachable: unreachable) }
                if idle || unreachable || now >= drainDeadline ?? now {
                    flush()
                    send(WireMessage(.bye, Bye(reason: "drained")))
                    Thread.sleep(forTimeInterval: 0.05)  // let libzmq hand the bye to the kernel
                    break
                }
            }
            if let s = socket, try s.poll(milliseconds: 10) {
                while let frames = try socket?.receive(dontWait: true) { handle(frames) }
            }
            watchHandshake()
            flush()
            let now = Self.clock
            if now - lastBeat >= Double(config.heartbeatMillis) / 1000 {
                lastBeat = now
                // Listed and queued in one step, behind any result already queued: the coordinator never sees a
                // heartbeat without a lease before that lease's result.
                lock.withLock { outbox.append(WireMessage(.heartbeat, Heartbeat(running: Array(running.keys)))) }
                flush()
            }
            if now - lastHeard > silenceSeconds {
                // A silent coordinator is most often a busy or restarting one: libzmq reconnects the TCP connection by
                // itself, and an unknown peer is told to say hello again. A new socket is made only after a backoff
                // that doubles with each try and is jittered, so a farm of workers never reconnects in step.
                if reconnect.due == nil {
                    reconnect.due = lastHeard + reconnect.next()
                    if handshook { log("coordinator silent for \(Int(now - lastHeard)) s; waiting for it") }
                }
                if let due = reconnect.due, now >= due {
                    if handshook {
                        log("coordinator silent for \(Int(now - lastHeard)) s; reconnecting to \(config.coordinator)")
                    } else {
                        log("no connection to \(config.coordinator) after \(Int(now - lastHeard)) s (is the coordinator running "
                            + "there? with CURVE, is --coordinator-key its public key?); retrying")
                    }
                    try connect()
                    reconnect.due = now + reconnect.next()
                }
            }
        }
        socket?.close()
    }

    /// (Re)creates the socket and registers, listing leases still being worked on.
    private func connect() throws {
        monitor?.close()
        socket?.close()
        let s = try ZMQSocket(zmq, .dealer)
        try s.setHighWaterMark(100_000)
        try config.security?.apply(to: s)
        // Messages wait in `stalled` (not inside libzmq) until a handshake completes, and no send ever blocks.
        try s.setImmediate(true)
        monitor = try HandshakeMonitor(s, context: zmq)
        handshook = false
        try s.connect(config.coordinator)
        socket = s
        lastHeard = Self.clock
        register(again: false)
    }

    /// Says hello on the current socket (again, after the coordinator did not know this worker: a restarted
    /// coordinator, or one that declared it dead; at most once a second however many refusals arrive).
    private func register(again: Bool) {
        let now = Self.clock
        if again, now - lastHello < 1 { return }
        lastHello = now
        let hello = Hello(name: config.name, engines: config.engines, device: config.device, slots: config.slots,
                          memoryBytes: config.memoryBytes, maxFramePixels: config.maxFramePixels, tags: config.tags,
                          running: lock.withLock { Array(running.keys) }, instance: instance,
                          geometries: config.geometries.isEmpty ? nil : config.geometries,
                          versions: config.versions.isEmpty ? nil : config.versions)
        // The hello goes first on the new connection; stale heartbeats are dropped, reports keep their order.
        stalled = [WireMessage(.hello, hello)] + stalled.filter { $0.command != .heartbeat && $0.command != .hello }
        flushStalled()
    }

    /// Logs a failed handshake in one line with what to check (once per reason a minute: libzmq retries by itself).
    private func watchHandshake() {
        guard let events = monitor?.events() else { return }
        if events.contains(where: { !$0.isFailure }) { handshook = true }
        for event in events where event.isFailure {
            let text = event.explanation(asServer: false, secured: config.security != nil)
            let now = Self.clock
            if let last = lastRefusal, last.text == text, now - last.at < 60 { continue }
            lastRefusal = (text, now)
            log("coordinator refused the connection: \(text); retrying")
        }
    }

    /// Stops running tasks and reports each as handed back (a drain that ran out of time, or lost its coordinator).
    private func handBackRunning(unreachable: Bool) {
        let leases: [Lease] = lock.withLock {
            let l = Array(running.keys)
            running.removeAll()  // their threads stop at the next step; their reports are dropped
            return l
        }
        for lease in leases {
            enqueue(WireMessage(.failed, TaskFailed(lease: lease, reason: unreachable ? "worker stopped; coordinator unreachable"
                                                    : "worker stopped: drain time (\(config.drainMillis) ms) ran out", handedBack: true)))
        }
        if !leases.isEmpty { log("handed back \(leases.count) running task(s) on shutdown") }
    }

    private func handle(_ frames: [Data]) {
        lastHeard = Self.clock
        reconnect.reset()
        do {
            let m = try WireMessage(frames: frames)
            switch m.command {
            case .welcome:
                let w = try m.payload(Welcome.self)
                workerID = w.workerId
                silenceSeconds = Double(w.silenceMillis) / 1000
                // A new connection only after that silence again: a coordinator's stall never costs a re-registration.
                reconnect.base = max(10, silenceSeconds)
                lock.withLock { for l in w.drop { running[l] = true } }
            case .heartbeat:
                break
            case .assign:
                start(try m.payload(Assign.self), blobs: m.blobs)
            case .cancelTask:
                let c = try m.payload(CancelTask.self)
                lock.withLock { if running[c.lease] != nil { running[c.lease] = true } }
            case .drain:
                let d = try m.payload(Drain.self)
                log("the coordinator asked this worker to leave (\(d.reason.prefix(200))): finishing its tasks, then exiting")
                drainUntilDone = true
                drain()
            case .refused:
                let r = try m.payload(Refusal.self)
                if r.kind == .unknownPeer { register(again: true) } else { log("coordinator refused a message: \(r.kind.rawValue): \(r.message)") }
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
            let started = Self.clock
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
            finish(lease, outcome, seconds: Self.clock - started)
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
    private func finish(_ lease: Lease, _ outcome: TaskExecution.Outcome, seconds: Double) {
        let messages = Self.report(lease, outcome)
        switch outcome {
        case .success: log("task \(lease) done in \(String(format: "%.2f", seconds)) s")
        case .failure(let error) where !(error is TaskCancelled): log("task \(lease) failed after \(String(format: "%.2f", seconds)) s: \(error)")
        case .failure: log("task \(lease) stopped: its lease was cancelled")
        }
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

    /// Sends without ever blocking: what the socket has no room for waits in `stalled`, in order.
    private func send(_ m: WireMessage) {
        sequence &+= 1
        var m = m
        m.sequence = sequence
        stalled.append(m)
        flushStalled()
    }

    private func flushStalled() {
        guard let socket else { return }
        var sent = 0
        for m in stalled {
            do {
                try socket.send(m.frames, dontWait: true)
                sent += 1
            } catch where error.wouldBlock {
                break
            } catch {
                log("send failed: \(error)")
                sent += 1
            }
        }
        stalled.removeFirst(sent)
    }

    func log(_ text: String) {
        FileHandle.standardError.write(Data("reelfarm worker \(config.name): \(text)\n".utf8))
    }
}
