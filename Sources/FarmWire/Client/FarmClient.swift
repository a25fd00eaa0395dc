import FarmCore
import Foundation

/// A client of the coordinator (the CLI's `submit`, `status`, `fetch`, …): request and reply over a DEALER socket.
/// Not thread-safe: use it from one thread.
public final class FarmClient {
    public let endpoint: String
    let timeoutMillis: Int
    private let zmq = ZMQContext()
    private let socket: ZMQSocket
    private var sequence: UInt32 = 0

    /// What went wrong talking to the coordinator.
    public enum ClientError: Error, CustomStringConvertible {
        /// No reply within the timeout.
        case unreachable(endpoint: String, seconds: Double, secured: Bool)
        /// The coordinator refused the request.
        case refused(Refusal)
        /// The connection's handshake failed (CURVE keys, security mismatch): nothing was asked.
        case handshake(HandshakeEvent, secured: Bool)
        case protocolError(String)

        public var description: String {
            switch self {
            case .unreachable(let e, let s, let secured):
                return "coordinator at \(e) did not answer within \(s) s (is it running? set --coordinator or REELFARM_COORDINATOR"
                    + (secured ? "; is --coordinator-key its public key, and is this peer's key authorized?"
                               : "; a coordinator using CURVE needs --coordinator-key") + ")"
            case .refused(let r):
                return ([r.message] + r.issues.map { "  \($0)" }).joined(separator: "\n")
            case .handshake(let event, let secured):
                return event.explanation(asServer: false, secured: secured)
            case .protocolError(let m):
                return "protocol error: \(m)"
            }
        }
    }

    /// - Parameter security: CURVE towards a coordinator that uses it (its public key); `nil` for plain TCP.
    public init(endpoint: String, timeoutMillis: Int = 5_000, security: CurveClientSecurity? = nil) throws {
        self.endpoint = endpoint
        self.timeoutMillis = timeoutMillis
        self.secured = security != nil
        socket = try ZMQSocket(zmq, .dealer)
        try security?.apply(to: socket)
        // Only completed handshakes take messages: a refused key then shows as a monitor event and a timed-out send,
        // never as a send blocked forever.
        try socket.setImmediate(true)
        monitor = try HandshakeMonitor(socket, context: zmq)
        try socket.connect(endpoint)
    }

    private let monitor: HandshakeMonitor

    /// Throws when the monitor saw the handshake fail.
    private func checkHandshake() throws {
        if let failure = monitor.events().first(where: \.isFailure) { throw ClientError.handshake(failure, secured: secured) }
    }

    private let secured: Bool

    /// Sends `message` and waits for the reply carrying the same sequence number.
    public func request(_ message: WireMessage) throws -> WireMessage {
        sequence &+= 1
        var m = message
        m.sequence = sequence
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeoutMillis) * 1_000_000
        func left() -> Int {
            let now = DispatchTime.now().uptimeNanoseconds
            return now < deadline ? Int((deadline - now) / 1_000_000) : 0
        }
        // The send waits for a completed handshake, in short steps so that a refusal is reported as soon as it is seen.
        var sent = false
        while !sent {
            try checkHandshake()
            sent = try socket.send(m.frames, waitingAtMost: min(100, left()))
            if !sent && left() == 0 {
                throw ClientError.unreachable(endpoint: endpoint, seconds: Double(timeoutMillis) / 1000, secured: secured)
            }
        }
        while left() > 0 {
            try checkHandshake()
            guard try socket.poll(milliseconds: max(1, min(100, left()))), let frames = try socket.receive(dontWait: true) else { continue }
            let reply = try WireMessage(frames: frames)
            guard reply.sequence == sequence else { continue }  // a late reply to an earlier request
            if reply.command == .refused { throw ClientError.refused(try reply.payload(Refusal.self)) }
            return reply
        }
        throw ClientError.unreachable(endpoint: endpoint, seconds: Double(timeoutMillis) / 1000, secured: secured)
    }

    func call<P: Decodable>(_ command: Command, _ payload: some Encodable, expecting: P.Type) throws -> P {
        let reply = try request(WireMessage(command, payload))
        guard reply.command == .reply else { throw ClientError.protocolError("expected a reply, got \(reply.command)") }
        return try reply.payload(P.self)
    }

    /// Submits a storyboard with the bytes of every image it names (`assets`: path as the storyboard resolves it →
    /// file contents), so the coordinator never needs the submitter's files.
    public func submit(storyboard: String, source: String, priority: Int, baseDirectory: String? = nil,
                       assets: [(path: String, data: Data)] = [], revise: String? = nil, reuse: Bool = true,
                       draft: DraftSettings? = nil, previewFirst: Bool = false) throws -> Submitted {
        let refs = assets.enumerated().map { i, a in SubmitAsset(path: a.path, sha256: Digest.sha256(a.data), blob: i) }
        let message = WireMessage(.submit, Submit(storyboard: storyboard, source: source, priority: priority,
                                                  baseDirectory: baseDirectory, assets: refs, revise: revise,
                                                  reuse: reuse ? nil : false, draft: draft, previewFirst: previewFirst ? true : nil),
                                  blobs: assets.map(\.data))
        guard message.frames.reduce(0, { $0 + $1.count }) <= WireMessage.maxMessageBytes else {
            throw ClientError.protocolError("the storyboard and its images come to more than "
                                            + "\(WireMessage.maxMessageBytes >> 20) MiB, the largest submission the farm takes")
        }
        let reply = try request(message)
        guard reply.command == .reply else { throw ClientError.protocolError("expected a reply, got \(reply.command)") }
        return try reply.payload(Submitted.self)
    }

    public func status(job: String?) throws -> StatusReport {
        try call(.status, JobQuery(job: job), expecting: StatusReport.self)
    }

    public func cancel(job: String) throws -> Cancelled {
        try call(.cancelJob, JobQuery(job: job), expecting: Cancelled.self)
    }

    /// Runs a failed or cancelled job again: finished tasks are kept, the others run again.
    public func retry(job: String) throws -> Retried {
        try call(.retryJob, JobQuery(job: job), expecting: Retried.self)
    }

    /// Deletes a finished, failed or cancelled job with its film; refused for a job still queued or running.
    public func delete(job: String) throws -> Deleted {
        try call(.deleteJob, JobQuery(job: job), expecting: Deleted.self)
    }

    /// One page of the workers (at most ``WorkersReport/pageSize``, connected ones first) from `offset`, with totals.
    public func workers(offset: Int = 0) throws -> WorkersReport {
        try call(.workers, JobQuery(job: nil, offset: offset == 0 ? nil : offset), expecting: WorkersReport.self)
    }

    /// Changes an unfinished job's priority (higher runs first); its queued tasks move at once.
    public func setPriority(job: String, priority: Int) throws -> JobSummary {
        try call(.setPriority, JobPriority(job: job, priority: priority), expecting: JobSummary.self)
    }

    /// Drains, disables or enables a worker (see ``WorkerControl/Action``).
    public func control(worker: String, _ action: WorkerControl.Action) throws -> WorkerState {
        try call(.workerControl, WorkerControl(worker: worker, action: action), expecting: WorkerState.self)
    }

    /// The storyboard of `job` and the latent grid the coordinator planned it with.
    public func plan(job: String) throws -> JobPlan {
        try call(.jobPlan, JobQuery(job: job), expecting: JobPlan.self)
    }

    /// Downloads a finished film piece by piece into `output` (written to a temporary file, then renamed).
    /// - Returns: the film's size in bytes.
    public func fetch(job: String, to output: URL) throws -> Int {
        let temporary = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).part")
        _ = FileManager.default.createFile(atPath: temporary.path, contents: nil)
        let handle = try FileHandle(forWritingTo: temporary)
        var offset = 0, total = 0
        do {
            repeat {
                let reply = try request(WireMessage(.fetch, JobQuery(job: job, offset: offset)))
                guard reply.command == .filmPart, let blob = reply.blobs.first else {
                    throw ClientError.protocolError("expected a film part, got \(reply.command)")
                }
                let part = try reply.payload(FilmPart.self)
                guard part.offset == offset, blob.count > 0 || part.offset == part.total else {
                    throw ClientError.protocolError("film part at \(part.offset), expected \(offset)")
                }
                try handle.write(contentsOf: blob)
                offset += blob.count
                total = part.total
            } while offset < total
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        guard rename(temporary.path, output.path) == 0 else {
            throw ClientError.protocolError("cannot move the film into \(output.path)")
        }
        return total
    }
}
