import FarmWire
import FlyingFox
import Foundation
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The TCP listener in front of the coordinator's HTTP servers: it holds every client to ``FrontDoorLimits`` before the
/// server behind it (FlyingFox, on a Unix socket in a directory only this user may enter) reads a byte.
///
/// FlyingFox reads a request's lines with no bound on their length or count and no deadline, so one client could
/// grow the coordinator's memory without end or hold connections forever. The door reads each connection's head
/// itself, with a size and a time limit, checks its framing (RFC 9112), forwards it with `Connection: close` and
/// then relays both ways: the request body with an idle limit, the response with backpressure and a limit on how
/// long a client may leave it unread. Every refusal is an HTTP answer with a JSON sentence, then the close.
///
/// One thread, `poll(2)`, non-blocking sockets; it never touches the coordinator's loop.
final class FrontDoor: @unchecked Sendable {
    /// The TCP port it listens on (the one picked, for port 0).
    let port: UInt16
    /// The Unix socket the server behind it must listen on.
    let backendPath: String
    let limits: FrontDoorLimits
    private let listener: Int32
    private let directory: String
    private let stopPipe: (read: Int32, write: Int32)
    private let lock = NSLock()
    private var thread: Thread?
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)
    private var counts: [Int: Int] = [:]
    private var open = 0
    /// The door's thread only: when it may accept again after running out of descriptors.
    private var acceptPausedUntil = 0.0

    /// Binds and listens on `address` at once (a port in use fails here, with a sentence naming `flag`, the option
    /// that picks another), and makes the directory for the server's socket, first removing those that dead doors
    /// left (``removeLeftovers(under:olderThan:)``). Connections wait in the kernel's queue until ``start()``.
    init(address: sockaddr_in, text: String, flag: String, limits: FrontDoorLimits = FrontDoorLimits()) throws {
        self.limits = limits
        Self.removeLeftovers()
        var template = Array("/tmp/reelfarm-http-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw DashboardSetupError("\(text): cannot make a directory for its socket (errno \(errno))")
        }
        directory = String(cString: made)
        backendPath = directory + "/server.sock"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DashboardSetupError("\(text): cannot open a socket (errno \(errno))") }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var a = address
        let bound = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 512) == 0 else {
            let why = errno == EADDRINUSE ? "the port is already in use (pick another with \(flag) HOST:PORT)"
                : errno == EADDRNOTAVAIL ? "the address is not on this machine" : String(cString: strerror(errno))
            close(fd)
            rmdir(directory)
            throw DashboardSetupError("\(text) cannot listen: \(why)")
        }
        var local = sockaddr_in()
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
        }
        port = UInt16(bigEndian: local.sin_port)
        listener = fd
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            rmdir(directory)
            throw DashboardSetupError("\(text): cannot make a pipe (errno \(errno))")
        }
        stopPipe = (pipeFDs[0], pipeFDs[1])
        for f in [listener, stopPipe.read] { Self.nonBlocking(f) }
    }

    deinit { stop() }

    /// Starts taking connections (once the server listens on ``backendPath``).
    func start() {
        lock.withLock {
            guard thread == nil, !stopped else { return }
            let t = Thread { [self] in
                Thread.current.name = "reelfarm-http-door"
                serve()
                finished.signal()
            }
            thread = t
            t.start()
        }
    }

    /// Closes the listener and every connection; idempotent.
    func stop() {
        let (first, running) = lock.withLock {
            defer { stopped = true }
            return (!stopped, thread != nil)
        }
        guard first else { return }
        if running {
            var byte: UInt8 = 1
            _ = write(stopPipe.write, &byte, 1)
            finished.wait()
        }
        close(listener)
        close(stopPipe.read)
        close(stopPipe.write)
        unlink(backendPath)
        rmdir(directory)
    }

    /// Refusals so far by HTTP status (408, 431, …), connections relayed (key 200), and accepts that found no
    /// descriptor left (key −EMFILE, and so on).
    var statistics: [Int: Int] { lock.withLock { counts } }

    /// Connections open now (as of the door's last turn).
    var openLinks: Int { lock.withLock { open } }

    private func count(_ status: Int) { lock.withLock { counts[status, default: 0] += 1 } }

    static func nonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// The poll loop: until ``stop()``.
    private func serve() {
        var links: [DoorLink] = []
        var fds: [pollfd] = []
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: DoorLink.chunk, alignment: 16)
        defer { scratch.deallocate() }
        while true {
            let now = Self.monotonic()
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0))
            // Out of descriptors, the listener stays readable with nothing to accept: it rests instead of spinning.
            let resting = now < acceptPausedUntil
            fds.append(pollfd(fd: resting ? -1 : listener, events: Int16(POLLIN), revents: 0))
            var wait = resting ? max(0, (acceptPausedUntil - now) * 1_000) : 1_000.0
            for link in links {
                let (client, backendFD, backend) = link.interest()
                fds.append(pollfd(fd: link.client, events: client, revents: 0))
                fds.append(pollfd(fd: backendFD, events: backend, revents: 0))  // -1 is ignored by poll
                if let deadline = link.deadline(limits) { wait = min(wait, max(0, (deadline - now) * 1_000)) }
            }
            let ready = poll(&fds, nfds_t(fds.count), Int32(wait.rounded(.up)))
            if ready < 0, errno != EINTR { break }
            if fds[0].revents != 0 { break }
            let after = Self.monotonic()
            for (i, link) in links.enumerated() {
                link.handle(client: fds[2 + 2 * i].revents, backend: fds[3 + 2 * i].revents, now: after, limits: limits,
                            scratch: scratch)
                if let deadline = link.deadline(limits), after >= deadline { link.expire(now: after) }
            }
            links.removeAll { link in
                guard link.finished else { return false }
                if let status = link.refusal { count(status) } else if link.relayed { count(200) }
                link.close()
                return true
            }
            if fds[1].revents != 0 { accept(into: &links, now: after) }
            lock.withLock { open = links.count }
        }
        for link in links { link.close() }
    }

    /// Takes every connection waiting; past the connection limit, answers 503 and closes.
    private func accept(into links: inout [DoorLink], now: Double) {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    acceptPausedUntil = now + 0.1
                    count(-Int(errno))  // seen in ``statistics`` under the negated errno
                }
                return
            }
            Self.nonBlocking(fd)
            var on: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            guard links.count < limits.connections else {
                let answer = HeadRefusal(status: 503, message: "the server has \(limits.connections) connections open; "
                                         + "try again").response
                _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(fd)
                count(503)
                continue
            }
            links.append(DoorLink(client: fd, backendPath: backendPath, accepted: now))
        }
    }

    /// Runs `server` (listening on ``backendPath``) behind `door` until graceful shutdown: the door takes connections
    /// once the server listens, and closes before it.
    static func serve(_ server: HTTPServer, behind door: FrontDoor, address: String) async throws {
        defer { door.stop() }
        try await withGracefulShutdownHandler {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await server.run() }
                    try await server.waitUntilListening(timeout: 30)
                    door.start()
                    try await group.next()
                }
            } catch {
                if Task.isShuttingDownGracefully || error is CancellationError { return }
                throw DashboardSetupError("HTTP endpoint \(address): \(error)")
            }
        } onGracefulShutdown: {
            door.stop()
            Task { await server.stop(timeout: 1) }
        }
    }

    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
