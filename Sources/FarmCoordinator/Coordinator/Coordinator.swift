import FarmCore
import FarmStore
import FarmWire
import Foundation

/// The farm's coordinator: one thread owns the ROUTER socket and the store, and runs the loop — receive, decide,
/// persist, send. Nothing here blocks Swift's cooperative pool; film assembly runs on a thread of its own.
public final class Coordinator: @unchecked Sendable {
    let config: CoordinatorConfiguration
    let store: FarmStore
    private let zmq = ZMQContext()
    var socket: ZMQSocket!
    let sessions = SessionTable()
    /// Running tasks' holders, output pieces received and progress to write.
    var leases = LeaseTable()
    var queue = ReadyQueue()
    /// Workers' speeds and running attempts' expected ends, for placement.
    var scheduling = SchedulingState()
    /// The loaded jobs: plans, priorities, dependencies, tasks left, outputs, codec headers.
    var jobIndex = JobIndex()
    /// The latent grid of each engine this build does not have, as the last worker running it declared.
    var declared: [String: EngineGeometry] = [:]
    /// Each engine's identity as the last worker running it declared (``Hello/versions``): new jobs' reuse keys name it.
    var engineVersions: [String: String] = [:]
    /// Refused messages by reason, for `reelfarm workers` and the negative tests.
    var refusedCounts: [String: Int] = [:]
    /// Requests refused because of the user's mistake (unknown job, cancel of a finished one): not protocol refusals.
    var clientErrors = 0
    /// Messages to send once the iteration's transaction has committed: the peer's identity and the frames.
    var outbox: [(Data, [Data])] = []
    /// Artifacts to delete once the iteration's transaction has committed.
    var afterCommit: [String] = []
    /// What the assembly thread hears of this iteration, in order, once its transaction has committed (films read what
    /// the store names, never what it may roll back).
    var assemblyNotices: [AssemblyWorker.Notice] = []
    /// Where the loop's time goes (the loop's own copy, and the last one it published for other threads).
    var stats = LoopStats()
    private var publishedStats = LoopStats()
    public var loopStats: LoopStats { lock.withLock { publishedStats } }
    /// The farm's gauges (the loop's own copy, and the last one it published for other threads).
    var gauges = FarmGauges()
    private var publishedGauges = FarmGauges()
    private var lastJobCount = -Double.infinity
    public var farmGauges: FarmGauges { lock.withLock { publishedGauges } }
    /// The dashboard's way in: requests for the loop, and the snapshots it publishes (see `Coordinator+Dashboard`).
    public let dashboard = DashboardLink()
    /// Answers to the dashboard's requests of this iteration, handed back once it committed.
    var replies: [() -> Void] = []
    var snapshotSchedule = SnapshotSchedule()
    /// Every job with its totals for listings, read again only where something changed.
    var jobList = JobListCache()
    /// Workers the dashboard disabled: no new task goes to them (until enabled, or this process restarts).
    var disabledWorkers: Set<String> = []
    let assembly: AssemblyWorker
    private let lock = NSLock()
    private var stopping = false
    private let bound = DispatchSemaphore(value: 0)
    private var boundEndpoint: String?
    private var startError: (any Error)?
    var workerCounter = 0
    var lastTurnedAwayLog = -Double.infinity
    /// Up to when every worker has been heard, and whether reaping waits (see ``LivenessClock``).
    var liveness = LivenessClock(start: Coordinator.clock)
    /// When the current iteration began: a stall inside the iteration (the process stopped between reading and
    /// reaping) is caught where the reaping happens, too.
    var iterationStart = 0.0
    /// When the loop last dispatched (monotonic seconds).
    var lastDispatch = -Double.infinity

    /// How many workers the descriptor limit allows at once (raised to the hard limit at start).
    public let workerCapacity: Int

    /// Opens the store in the data directory (migrating it) and readies the queue from it.
    public init(configuration: CoordinatorConfiguration) throws {
        config = configuration
        workerCapacity = DescriptorLimit.workerCapacity(soft: DescriptorLimit.raiseToHard().soft)
        store = try FarmStore(directory: configuration.dataDirectory)
        assembly = AssemblyWorker(store: store, assembler: configuration.assembler, log: configuration.log)
        for (engine, json) in try store.declaredGeometries() {
            if let g = try? Self.decodeGeometry(json) { declared[engine] = g }
        }
        engineVersions = try store.declaredVersions()
    }

    /// The coordinator's heartbeat, encoded once (a large farm gets tens of thousands a second).
    static let heartbeatFrames = WireMessage(.heartbeat, Heartbeat()).frames

    /// Monotonic seconds, for liveness.
    static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    /// Wall-clock seconds, for the store.
    static var wall: Double { Date().timeIntervalSince1970 }

    /// Starts the loop on a thread of its own; returns the bound endpoint once the socket listens.
    public func start() throws -> String {
        let thread = Thread { [self] in
            Thread.current.name = "reelfarm-loop"  // named from inside: Linux keeps at most 15 characters
            do { try run() } catch {
                let starting = lock.withLock {
                    if boundEndpoint == nil { startError = error }
                    return boundEndpoint == nil
                }
                if starting { bound.signal() } else { log("loop stopped: \(error)") }  // start errors go to the caller
            }
        }
        thread.start()
        bound.wait()
        if let startError { throw startError }
        return boundEndpoint!
    }

    /// Asks the loop to finish its current iteration and exit.
    public func stop() { lock.withLock { stopping = true } }
    public var isStopping: Bool { lock.withLock { stopping } }
    private let finished = DispatchSemaphore(value: 0)

    /// Waits until the loop has exited (any number of callers, any number of times).
    public func wait() {
        finished.wait()
        finished.signal()
    }

    private func run() throws {
        defer { finished.signal() }
        defer { dashboard.inbox.close() }
        // Every new peer goes through the ZAP handler: with CURVE it checks the key list, and whatever the mechanism it
        // turns peers away while descriptors run short (the connected ones keep being served).
        if config.authorizedKeys != nil, config.curve == nil {
            throw CurveKeyError("authorized keys need CURVE (a coordinator key pair)")
        }
        let descriptors = DescriptorWatch(soft: DescriptorLimit.current.soft)
        descriptors.start()
        defer { descriptors.stop() }
        let authenticator = CurveAuthenticator(context: zmq, authorized: config.authorizedKeys) { !descriptors.isShort }
        try authenticator.start()
        defer { authenticator.stop() }
        socket = try ZMQSocket(zmq, .router)
        let monitor = try HandshakeMonitor(socket, context: zmq)
        defer { monitor.close() }
        if let keys = config.curve { try socket.makeCurveServer(keys) }
        try socket.setZAPDomain("reelfarm")
        try socket.setMaxMessageSize(Int64(WireMessage.maxMessageBytes + 4096))
        try socket.setHighWaterMark(100_000)
        try socket.setRouterMandatory(true)
        // A thousand workers connecting in a second must not overflow the listen queue (the kernel caps it at
        // net.core.somaxconn).
        try socket.setBacklog(4_096)
        try socket.bind(config.bind)
        let endpoint = try socket.lastEndpoint
        gauges.workerCapacity = workerCapacity
        try endpoint.write(to: config.dataDirectory.appendingPathComponent("endpoint"), atomically: true, encoding: .utf8)
        try store.batch { try recover() }
        lock.withLock { boundEndpoint = endpoint }
        bound.signal()
        var lastIteration = Self.clock
        // Messages received but left for the next iteration (a dashboard request cut this one short).
        var carried: [[Data]] = []
        var previous = (start: UInt64(0), handled: 0)
        let iterationMicros = UInt64(max(0, min(config.iterationMicros, 100_000)))
        while !isStopping {
            var incoming = carried
            carried = []
            var snapshot: FarmSnapshot?
            // While messages keep coming, iterations start at most every `iterationMicros`: the messages that arrive
            // meanwhile share one poll, one transaction and one tick instead of paying for them each (on a large farm,
            // heartbeats arrive tens of microseconds apart). The first message after a quiet spell is read at once.
            if previous.handled > 0, incoming.isEmpty, !dashboard.inbox.hasWaiting {
                let since = (LoopStats.now &- previous.start) / 1_000
                if since < iterationMicros { usleep(UInt32(iterationMicros - since)) }
            }
            let receiveStart = Self.clock
            let ready = try socket.poll(milliseconds: incoming.isEmpty ? 20 : 0)
            let busySince = LoopStats.now
            var drained = !ready
            if ready {
                let t0 = LoopStats.now
                while incoming.count < 512 {
                    guard let frames = try socket.receive(dontWait: true) else { drained = true; break }
                    incoming.append(frames)
                }
                stats.add(.receive, since: t0)
            }
            // Silence while this loop itself stalled is not the workers' fault: after a stall, nobody is declared dead
            // until a whole liveness limit has passed since it resumed (the messages that queued take seconds to read
            // on a large farm, and a worker only counts as silent once it had a full limit's time to be heard again).
            let resumed = Self.clock
            liveness.resumed(at: resumed, after: resumed - lastIteration, limit: Double(config.deadAfterMillis) / 1000)
            lastIteration = resumed
            iterationStart = resumed
            // One transaction per iteration; replies and assignments leave only after it committed, so whatever a
            // peer is told is already durable.
            var t0 = LoopStats.now
            var handled = 0
            try store.batch {
                // A dashboard request is answered after this iteration's commit: while one waits, the messages not
                // handled yet wait for the next iteration instead (checked every 32, so the request waits for at most
                // that many).
                for frames in incoming {
                    if handled % 32 == 0, handled > 0, dashboard.inbox.hasWaiting { break }
                    try handle(frames)
                    handled += 1
                }
                if handled < incoming.count { carried = Array(incoming[handled...]) }
                liveness.received(startedAt: receiveStart, drained: drained, handledAll: carried.isEmpty)
                try runCommands()
                stats.add(.handle, since: t0)
                t0 = LoopStats.now
                // An iteration that answers dashboard requests leaves dispatch to the next one (at most 50 ms on):
                // the requests' answers then wait for no dispatch pass.
                try tick(answering: !replies.isEmpty)
                stats.add(.tick, since: t0)
                // The gauges' and the dashboard's reads go through this transaction's connection: after the commit
                // they would wait for one of the pool's readers, which the HTTP side may all be using.
                let now = Self.clock
                let countJobs = now - lastJobCount >= Double(config.heartbeatMillis) / 1000
                if countJobs { lastJobCount = now }
                refreshGauges(jobCounts: countJobs)
                snapshot = takeSnapshotIfDue()
                t0 = LoopStats.now
            }
            stats.add(.commit, since: t0)
            stats.count(iteration: handled)
            previous = (busySince, handled)
            noteRefusedHandshakes(monitor: monitor, authenticator: authenticator, descriptors: descriptors)
            // Published before the sends, so a peer that hears of this iteration finds it counted.
            let published = gauges
            lock.withLock {
                publishedStats = stats
                publishedGauges = published
            }
            // Files the commit released go before anyone hears of it (a client told "deleted" finds them gone).
            for hash in afterCommit { store.artifacts.remove(hash) }
            afterCommit.removeAll()
            for notice in assemblyNotices { assembly.hear(notice) }
            assemblyNotices.removeAll()
            publishAndReply(snapshot)
            t0 = LoopStats.now
            flushOutbox()
            stats.add(.send, since: t0)
            let busy = Double(LoopStats.now - busySince) / 1e9
            stats.busy.add(busy)
            if busy >= 1 { log(String(format: "loop iteration took %.1f s (%d messages)", busy, handled)) }
        }
        socket.close()
    }

    /// Decodes one received message and routes it; anything malformed is refused and counted.
    /// - Throws: ``CoordinatorFailure`` only: the store failed mid-message, and the iteration must not commit.
    func handle(_ frames: [Data]) throws {
        guard let identity = frames.first else { return }
        // Most of what a large farm sends: an idle worker's heartbeat, recognised by its exact bytes (anything else,
        // however close, takes the full decoder below). Same handling as through `route`.
        if let sequence = WireMessage.idleHeartbeatSequence(frames.dropFirst()) {
            try refusing(identity, sequence: sequence) { try heartbeat(Heartbeat(), from: identity) }
            return
        }
        let message: WireMessage
        do {
            message = try WireMessage(frames: Array(frames.dropFirst()))
        } catch {
            refuse(identity, error, sequence: 0)
            return
        }
        // Refusals carry the request's sequence, so a client matches them to what it asked.
        try refusing(identity, sequence: message.sequence) {
            switch message.command {
            case .resultPart, .progress, .heartbeat, .status, .fetch, .workers, .jobPlan:
                // These change memory only (or only read), or take a savepoint only when they write (a heartbeat
                // that drops a lease): none of their own each time.
                try route(message, from: identity)
            case .result:
                try route(message, from: identity)  // checks before it writes; see `result`
            default:
                // A message changes the store all or nothing.
                try store.atomically { try route(message, from: identity) }
            }
        }
    }

    /// Runs what a message asks for; anything it throws but a store failure is refused to the sender and counted.
    private func refusing(_ identity: Data, sequence: UInt32, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CoordinatorFailure {
            throw failure
        } catch let error as WireError {
            refuse(identity, error, sequence: sequence)
        } catch let error as SpecError {
            refuse(identity, WireError(.invalid, error.description), sequence: sequence, issues: error.issues.map(\.description))
        } catch {
            refuse(identity, WireError(.invalid, "\(error)"), sequence: sequence)
        }
    }

    private func route(_ m: WireMessage, from identity: Data) throws {
        switch m.command {
        case .hello: try hello(try m.payload(Hello.self), from: identity)
        case .heartbeat: try heartbeat(try m.payload(Heartbeat.self), from: identity)
        case .progress: try progress(try m.payload(TaskProgress.self), from: identity)
        case .resultPart: try resultPart(try m.payload(ResultPart.self), blobs: m.blobs, from: identity)
        case .result: try result(try m.payload(TaskResult.self), blobs: m.blobs, from: identity)
        case .failed: try failed(try m.payload(TaskFailed.self), from: identity)
        case .bye: try bye(try m.payload(Bye.self), from: identity)
        case .submit: try submit(try m.payload(Submit.self), blobs: m.blobs, sequence: m.sequence, from: identity)
        case .status: try status(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .cancelJob: try cancelJob(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .retryJob: try retryJob(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .deleteJob: try deleteJob(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .fetch: try fetch(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .jobPlan: try jobPlan(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .workers: try workersReport(try m.payload(JobQuery.self), sequence: m.sequence, from: identity)
        case .setPriority: try setPriority(try m.payload(JobPriority.self), sequence: m.sequence, from: identity)
        case .workerControl: try workerControl(try m.payload(WorkerControl.self), sequence: m.sequence, from: identity)
        case .welcome, .assign, .cancelTask, .drain, .reply, .filmPart, .refused:
            throw WireError(.unexpected, "\(m.command) is sent by the coordinator, not to it")
        }
    }

    /// Queues a message for `identity`; it is sent once the iteration's transaction has committed.
    func send(_ identity: Data, _ message: WireMessage) {
        outbox.append((identity, message.frames))
    }

    private func flushOutbox() {
        for (identity, frames) in outbox {
            do {
                try socket.send(to: identity, frames, dontWait: true)
            } catch {
                // The peer is gone or its queue is full; liveness will notice a dead worker.
            }
        }
        outbox.removeAll(keepingCapacity: true)
    }

    func refuse(_ identity: Data, _ error: WireError, sequence: UInt32, issues: [String] = []) {
        if error.kind.isClientError {
            clientErrors += 1
        } else {
            refusedCounts[error.kind.rawValue, default: 0] += 1
        }
        send(identity, WireMessage(.refused, Refusal(kind: error.kind, message: error.message, issues: issues), sequence: sequence))
    }

    func log(_ text: String) { config.log(text) }
}

/// Time the coordinator loop spends in each phase, for `reelfarm bench dispatch`'s breakdown. Written by the loop
/// thread only; read after the loop has stopped (or approximately while it runs).
public struct LoopStats: Sendable {
    public enum Phase: Int, CaseIterable, Sendable {
        case receive, handle, tick, commit, send
        public var name: String { ["receive", "decide", "dispatch", "commit", "send"][rawValue] }
    }

    public private(set) var nanos = [UInt64](repeating: 0, count: Phase.allCases.count)
    public private(set) var iterations = 0
    public private(set) var messages = 0
    /// Results recorded (tasks done).
    public internal(set) var results = 0
    /// How long each iteration kept the loop from reading its socket (from the poll's return to the next poll).
    public internal(set) var busy = LoopHistogram()

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// What happened between `earlier` and this snapshot.
    public func since(_ earlier: LoopStats) -> LoopStats {
        var d = self
        for i in nanos.indices { d.nanos[i] = nanos[i] &- earlier.nanos[i] }
        d.iterations = iterations - earlier.iterations
        d.messages = messages - earlier.messages
        d.results = results - earlier.results
        return d
    }

    mutating func add(_ phase: Phase, since start: UInt64) { nanos[phase.rawValue] &+= Self.now &- start }
    mutating func count(iteration messages: Int) {
        if messages > 0 { iterations += 1 }
        self.messages += messages
    }
}

/// The store failed in the middle of recording a message: the loop iteration's transaction is rolled back and the
/// coordinator stops (a restart resumes from the last commit; nothing a peer was told is lost).
struct CoordinatorFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
