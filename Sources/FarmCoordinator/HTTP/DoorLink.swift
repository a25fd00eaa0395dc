import FarmWire
import FlyingSocks
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection through the ``FrontDoor``: its head read and checked, then its body and the server's answer
/// relayed, each direction holding at most one read's worth of bytes (a side is read only once what it sent before
/// has been written on).
final class DoorLink {
    enum Phase {
        /// Reading the head (the input so far in ``input``).
        case head
        /// Relaying the request body: bytes still to come.
        case body(remaining: Int)
        /// The request is with the server; relaying its answer.
        case response
        /// Answer written (or being written), write side shut: reading what the client still sends until it closes or
        /// the time is up, so that the close does not reset the connection under an unread answer.
        case closing(until: Double)
    }

    static let chunk = 64 << 10
    static let lingerSeconds = 2.0

    let client: Int32
    private(set) var backend: Int32 = -1
    private let backendPath: String
    private(set) var phase = Phase.head
    private var input: [UInt8] = []
    private var toBackend: [UInt8] = []
    private var toBackendSent = 0
    private var toClient: [UInt8] = []
    private var toClientSent = 0
    private var backendDone = false
    private var backendHungUp = false
    private var shutDown = false
    private let accepted: Double
    private var lastClientByte: Double
    private var lastClientWrite: Double
    private var discarded = 0
    /// The connection is over: the door closes it.
    private(set) var finished = false
    /// The status the door answered with itself, if it did.
    private(set) var refusal: Int?
    /// Its request reached the server.
    private(set) var relayed = false

    init(client: Int32, backendPath: String, accepted: Double) {
        self.client = client
        self.backendPath = backendPath
        self.accepted = accepted
        lastClientByte = accepted
        lastClientWrite = accepted
    }

    private var clientPending: Bool { toClientSent < toClient.count }
    private var backendPending: Bool { toBackendSent < toBackend.count }

    /// The poll events each side waits for, and the server's socket to poll (-1: none; a server that hung up is not
    /// polled while its last bytes wait for the client, or poll would report the hang-up without end).
    func interest() -> (client: Int16, backendFD: Int32, backend: Int16) {
        var c: Int32 = 0, b: Int32 = 0
        switch phase {
        case .head, .body: if !backendPending { c |= Int32(POLLIN) }
        case .response, .closing: c |= Int32(POLLIN)
        }
        if clientPending { c |= Int32(POLLOUT) }
        if backend >= 0 {
            if !clientPending, !backendDone { b |= Int32(POLLIN) }
            if backendPending { b |= Int32(POLLOUT) }
        }
        return (Int16(c), backendHungUp && clientPending ? -1 : backend, Int16(b))
    }

    /// When it expires, if it can.
    func deadline(_ limits: FrontDoorLimits) -> Double? {
        var d: Double?
        switch phase {
        case .head: d = accepted + limits.headSeconds
        case .body: d = lastClientByte + limits.bodyIdleSeconds
        case .response: break
        case let .closing(until): d = until
        }
        if clientPending { d = min(d ?? .infinity, lastClientWrite + limits.writeIdleSeconds) }
        return d
    }

    /// Its deadline passed: a head too slow is answered 408; anything else just ends.
    func expire(now: Double) {
        if case .head = phase, !clientPending { refuse(HeadRefusal(status: 408, message: "the request's head did not "
            + "arrive in time"), now: now) } else { finished = true }
    }

    /// - Parameter scratch: the door's one receive buffer (``chunk`` bytes), shared by every link of its thread.
    func handle(client c: Int16, backend b: Int16, now: Double, limits: FrontDoorLimits,
                scratch: UnsafeMutableRawBufferPointer) {
        if Int32(c) & Int32(POLLERR | POLLNVAL) != 0 { finished = true; return }
        if Int32(c) & Int32(POLLOUT) != 0 { writeClient(now: now) }
        if Int32(c) & Int32(POLLIN) != 0 {
            readClient(now: now, limits: limits, scratch: scratch)
        } else if Int32(c) & Int32(POLLHUP) != 0 {
            finished = true
            return
        }
        if Int32(b) & Int32(POLLHUP) != 0 { backendHungUp = true }
        if backend >= 0, !finished {
            if Int32(b) & Int32(POLLOUT | POLLERR) != 0, backendPending { writeBackend() }
            if Int32(b) & Int32(POLLIN | POLLHUP | POLLERR | POLLNVAL) != 0, !clientPending { readBackend(now: now, scratch: scratch) }
        }
        afterProgress(now: now)
    }

    func close() {
        Glibc.close(client)
        if backend >= 0 { Glibc.close(backend) }
        backend = -1
    }

    // MARK: The client's side

    private func readClient(now: Double, limits: FrontDoorLimits, scratch: UnsafeMutableRawBufferPointer) {
        let n = recv(client, scratch.baseAddress, scratch.count, 0)
        if n < 0 {
            if errno != EAGAIN, errno != EINTR { finished = true }
            return
        }
        // The client closed (or shut its write side: a half-close is taken as the end; browsers never do it).
        if n == 0 { finished = true; return }
        let bytes = UnsafeRawBufferPointer(rebasing: scratch[0..<n])
        lastClientByte = now
        switch phase {
        case .head:
            input += bytes
            do {
                guard let head = try RequestHead.parse(input[...], limits: limits) else { return }
                try connectBackend()
                relayed = true
                let rest = input[head.consumed...]
                let body = rest.prefix(head.bodyLength)
                toBackend = head.forwarded + body
                toBackendSent = 0
                discarded += rest.count - body.count
                input = []
                let remaining = head.bodyLength - body.count
                phase = remaining > 0 ? .body(remaining: remaining) : .response
            } catch let refusal as HeadRefusal {
                refuse(refusal, now: now)
            } catch {
                refuse(HeadRefusal(status: 503, message: "the server behind the door is not answering: \(error)"), now: now)
            }
        case let .body(remaining):
            let take = min(remaining, n)
            toBackend.append(contentsOf: bytes.prefix(take))
            toBackendSent = 0
            discarded += n - take
            phase = remaining - take > 0 ? .body(remaining: remaining - take) : .response
        case .response:
            // Bytes past the one request (a pipelined second one): the answer says Connection: close.
            discarded += n
            if discarded > Self.chunk { finished = true }
        case .closing:
            break
        }
    }

    private func writeClient(now: Double) {
        let n = toClient[toClientSent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 {
            if errno != EAGAIN, errno != EINTR { finished = true }
            return
        }
        toClientSent += n
        lastClientWrite = now
        if !clientPending {
            toClient.removeAll(keepingCapacity: true)
            toClientSent = 0
        }
    }

    /// Answers with `refusal` instead of the server, then closes.
    private func refuse(_ refusal: HeadRefusal, now: Double) {
        self.refusal = refusal.status
        toClient = refusal.response
        toClientSent = 0
        lastClientWrite = now
        backendDone = true
        input = []
        if backend >= 0 { Glibc.close(backend); backend = -1 }
        phase = .closing(until: now + Self.lingerSeconds)
    }

    /// Once the answer is out: shut the write side and linger; once the linger is over, or the client closed, end.
    private func afterProgress(now: Double) {
        guard backendDone, !clientPending, !finished else { return }
        if !shutDown {
            shutDown = true
            shutdown(client, Int32(SHUT_WR))
            if case .closing = phase {} else { phase = .closing(until: now + Self.lingerSeconds) }
        }
    }

    // MARK: The server's side

    private func connectBackend() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HeadRefusal(status: 503, message: "cannot open a socket (errno \(errno))") }
        var address = sockaddr_un.unix(path: backendPath)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HeadRefusal(status: 503, message: "the server behind the door is not answering (errno \(e)); try again")
        }
        FrontDoor.nonBlocking(fd)
        backend = fd
    }

    private func writeBackend() {
        let n = toBackend[toBackendSent...].withUnsafeBytes { send(backend, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 {
            // The server stopped reading (it answered early, say 413): drop what it will not read, keep its answer.
            if errno != EAGAIN, errno != EINTR {
                toBackend = []
                toBackendSent = 0
                phase = .response
            }
            return
        }
        toBackendSent += n
        if !backendPending {
            toBackend.removeAll(keepingCapacity: true)
            toBackendSent = 0
        }
    }

    private func readBackend(now: Double, scratch: UnsafeMutableRawBufferPointer) {
        let n = recv(backend, scratch.baseAddress, scratch.count, 0)
        if n < 0, errno == EAGAIN || errno == EINTR { return }
        guard n > 0 else {
            backendDone = true
            return
        }
        toClient.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
        toClientSent = 0
        lastClientWrite = now
        writeClient(now: now)
    }
}
