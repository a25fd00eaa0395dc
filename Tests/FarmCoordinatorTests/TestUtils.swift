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

let reelfarm = TestPaths.reelfarm

func temporaryDirectory(_ name: String = "farm") throws -> URL { try TestPaths.temporaryDirectory(name) }

/// Renders `text` on this machine the way `reelfarm render` does: the reference a farm's film must equal.
func localFilm(_ text: String) throws -> Data {
    MediaLog.setLevel(.errors)
    let spec = try JobSpec.parse(text, source: "test")
    let engine = try EngineRegistry.engine(for: spec.model)
    let job = try JobContext(spec: spec, geometry: engine.geometry)
    let out = try temporaryDirectory("local").appendingPathComponent("film.mp4")
    _ = try LocalRenderer(runner: SegmentRunner(engine: engine, encoder: H264ChunkEncoder()), assembler: MP4FilmAssembler(),
                          jobs: 2).render(job, to: out)
    return try Data(contentsOf: out)
}

/// Fetches a finished job's film into `dir` and returns its bytes.
func fetchedFilm(_ client: FarmClient, job: String, into dir: URL) throws -> Data {
    let film = dir.appendingPathComponent("film.mp4")
    _ = try client.fetch(job: job, to: film)
    return try Data(contentsOf: film)
}

/// Polls the job's status until `done` holds or `seconds` pass.
func waitFor(_ client: FarmClient, job: String, seconds: Double = 120,
             until done: (StatusReport) -> Bool = { $0.jobs.first.map { ["done", "failed", "cancelled"].contains($0.state) } ?? false })
    throws -> StatusReport {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let r = try? client.status(job: job), done(r) { return r }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return try client.status(job: job)
}

/// A coordinator inside the test process, on a free loopback port.
/// - Parameter log: collects its log lines when given (else they go to stderr).
func inProcessCoordinator(_ dir: URL, log: LogLines? = nil, keepIntermediates: Bool = true,
                          configure: (inout CoordinatorConfiguration) -> Void = { _ in }) throws -> (Coordinator, String) {
    MediaLog.setLevel(.errors)
    var config = CoordinatorConfiguration(
        dataDirectory: dir, bind: "tcp://127.0.0.1:*",
        geometry: { model throws(SpecError) in try EngineRegistry.plannedGeometry(for: model) },
        assembler: MP4FilmAssembler())
    config.images = { spec, files throws(SpecError) in try StoryboardImages.load(spec, files: files) }
    if let log { config.log = { log.append($0) } }
    config.keepIntermediates = keepIntermediates
    configure(&config)
    let c = try Coordinator(configuration: config)
    return (c, try c.start())
}

/// A hand-driven peer on the coordinator's socket: sends what a test wants, reads what comes back.
final class RawPeer {
    let zmq = ZMQContext()
    let socket: ZMQSocket
    init(_ endpoint: String) throws {
        socket = try ZMQSocket(zmq, .dealer)
        try socket.connect(endpoint)
    }

    func send(_ m: WireMessage) throws { try socket.send(m.frames) }
    func sendRaw(_ frames: [Data]) throws { try socket.send(frames) }

    /// Runs `work` on another thread while this peer sends a heartbeat every 0.3 s, so that slow work (a render on a
    /// loaded machine) does not make the coordinator declare the peer dead.
    /// Runs `work` on a thread of its own while heartbeats listing `running` go out every 0.3 s.
    func beating<T>(running: [Lease] = [], while work: @escaping () throws -> T) throws -> T {
        let box = ResultBox<T>()
        nonisolated(unsafe) let work = work
        Thread { let r = Result { try work() }; box.lock.withLock { box.result = r } }.start()
        while true {
            if let r = box.lock.withLock({ box.result }) { return try r.get() }
            try send(WireMessage(.heartbeat, Heartbeat(running: running)))
            Thread.sleep(forTimeInterval: 0.3)
        }
    }

    /// The next message with one of `commands` (others are skipped), within `seconds`.
    func next(_ commands: Set<Command>, seconds: Double = 10) throws -> WireMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard try socket.poll(milliseconds: 50), let frames = try socket.receive(dontWait: true) else { continue }
            let m = try WireMessage(frames: frames)
            if commands.contains(m.command) { return m }
        }
        return nil
    }
}

let farmStoryboard = Storyboards.threeShots()

/// `GET path` from 127.0.0.1:`port` over a plain socket (HTTP/1.0, so the server closes when done): the status code
/// and body. Independent of the server's HTTP library.
func httpGet(port: UInt16, path: String) throws -> (status: Int, body: String) {
    struct HTTPFailure: Error { var what: String }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HTTPFailure(what: "socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HTTPFailure(what: "connect to port \(port)") }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { throw HTTPFailure(what: "send") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0 ..< n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let statusLine = text.split(separator: "\r\n").first, statusLine.split(separator: " ").count >= 2,
          let status = Int(statusLine.split(separator: " ")[1]), let end = text.range(of: "\r\n\r\n")
    else { throw HTTPFailure(what: "response: \(text.prefix(200))") }
    return (status, String(text[end.upperBound...]))
}

/// Prometheus text as `name{labels}` → value (comments skipped).
func prometheusSamples(_ text: String) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        out[String(line[..<space])] = value
    }
    return out
}

/// Runs blocking work on a thread of its own, so an async test does not hold a cooperative thread that a server in
/// the same process needs.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A result handed from one thread to another.
final class ResultBox<T>: @unchecked Sendable {
    let lock = NSLock()
    var result: Result<T, any Error>?
}

/// A real worker with the test-card engine, in this process on a thread of its own; stop it when done.
func startTestCardWorker(_ endpoint: String, name: String = "honest", slots: Int = 2) -> Worker {
    let worker = Worker(configuration: WorkerConfiguration(
        coordinator: endpoint, name: name, slots: slots, engines: ["testcard"], device: "cpu", tags: [],
        memoryBytes: 1 << 30, maxFramePixels: 1 << 22, engineFactory: { _ in TestCardEngine() }, encoder: H264ChunkEncoder()))
    Thread { try? worker.run() }.start()
    return worker
}

/// A coordinator's log lines, collected from its threads.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass; whether it held.
func eventually(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}

/// Flips one byte in the middle of a stored artifact, as a failing disk would.
func damageArtifact(_ hash: String, in dir: URL) throws {
    let file = dir.appendingPathComponent("artifacts").appendingPathComponent(String(hash.prefix(2))).appendingPathComponent(hash)
    var bytes = try Data(contentsOf: file)
    bytes[bytes.count / 2] ^= 0x40
    try bytes.write(to: file)
}

/// One HTTP exchange over a plain socket (HTTP/1.0, so the server closes when done), with a deadline on every read:
/// the status, the headers (lower-cased names) and the body. Independent of the server's HTTP library.
struct HTTPExchange {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }

    struct Failure: Error { var what: String }

    /// Sends the request and reads the answer until the server closes, `seconds` pass, or `until` holds on what came.
    static func run(port: UInt16, _ method: String, _ path: String, headers: [String: String] = [:],
                    body: Data = Data(), seconds: Double = 30, until: ((Data) -> Bool)? = nil) throws -> HTTPExchange {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(what: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(what: "connect to port \(port)") }
        var head = "\(method) \(path) HTTP/1.0\r\n"
        var all = headers
        if all["Host"] == nil { all["Host"] = "127.0.0.1:\(port)" }
        if all["Content-Length"] == nil, !body.isEmpty || method == "POST" { all["Content-Length"] = "\(body.count)" }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        let request = Array(head.utf8) + Array("\r\n".utf8) + Array(body)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(what: "send") }
            sent += n
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                break
            }
            response.append(contentsOf: buffer[0 ..< n])
            if let until, let end = response.range(of: Data("\r\n\r\n".utf8)), until(response[end.upperBound...]) {
                break
            }
        }
        guard let end = response.range(of: Data("\r\n\r\n".utf8)) else {
            let start = String(decoding: response.prefix(200), as: UTF8.self)
            throw Failure(what: "no response head within \(seconds) s: \(start)")
        }
        let lines = String(decoding: response[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Failure(what: "status line \(lines.first ?? "")")
        }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPExchange(status: status, headers: fields, body: Data(response[end.upperBound...]))
    }

    /// The body as JSON (an object).
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw Failure(what: "not a JSON object: \(text.prefix(200))")
        }
        return object
    }
}

/// A coordinator process (`reelfarm coordinator --http 127.0.0.1:0`) with data in `dir`, and the port its dashboard
/// listens on (read from its log within 60 s). A process of its own, so that its HTTP server never waits for this
/// test process's busy cooperative threads.
func dashboardFarm(_ dir: URL, extra: [String] = []) throws -> (LocalFarm, UInt16) {
    struct NoDashboard: Error { var log: String }
    let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
    try farm.startCoordinator(extra: ["--http", "127.0.0.1:0"] + extra, timeout: 60)
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        let log = farm.log("coordinator")
        if let range = log.range(of: "dashboard on http://127.0.0.1:") {
            let digits = log[range.upperBound...].prefix { $0.isNumber }
            if let port = UInt16(digits) { return (farm, port) }
        }
        Thread.sleep(forTimeInterval: 0.05)
    }
    farm.shutdown()
    throw NoDashboard(log: farm.log("coordinator"))
}
