import FarmWire
import Foundation

/// `reelfarm bench http`: the latency of each dashboard page and API call with a large store while dispatch traffic
/// runs, and what the requests cost the dispatch rate, both measured in one run.
///
/// The store holds `jobs` queued jobs of `segmentsPerJob` segments each; a higher-priority job of many no-op
/// segments keeps in-process no-op workers busy (every dispatch and result pays the real durable path). The dispatch
/// rate is measured for `seconds` three times: alone, with one open event stream (a dashboard open in a browser: the
/// loop publishes snapshots), and while `clients` threads request the routes in turn over loopback TCP, each request
/// timed from connect to the last byte.
public struct HTTPBenchmark: Sendable {
    public var jobs: Int
    public var segmentsPerJob: Int
    public var workers: Int
    public var slots: Int
    public var clients: Int
    public var seconds: Double

    public init(jobs: Int = 1_000, segmentsPerJob: Int = 10, workers: Int = 4, slots: Int = 64, clients: Int = 2,
                seconds: Double = 5) {
        self.jobs = jobs
        self.segmentsPerJob = segmentsPerJob
        self.workers = workers
        self.slots = slots
        self.clients = clients
        self.seconds = seconds
    }

    public struct Result: Sendable, CustomStringConvertible {
        public var jobs: Int
        public var segments: Int
        public var loadTasks: Int
        public var dispatchAlone: Double
        public var dispatchWithEvents: Double
        public var events: Int
        public var dispatchWithRequests: Double
        public var seconds: Double
        /// Per route, in the order requested: its latencies in seconds and how many answers were not 2xx/3xx.
        public var routes: [(name: String, latencies: [Double], failures: Int)]

        public var description: String {
            let total = routes.reduce(0) { $0 + $1.latencies.count }
            var lines = [
                "store            \(jobs) queued jobs, \(segments) segments; \(loadTasks) no-op load tasks "
                    + "ahead of them",
                String(format: "dispatch alone   %.0f results/s", dispatchAlone),
                String(format: "  event stream   %.0f/s with one open (ratio %.2f; %d snapshots in %.0f s)",
                       dispatchWithEvents, dispatchWithEvents / max(dispatchAlone, 1e-9), events, seconds),
                String(format: "  requests       %.0f/s while the requests ran (ratio %.2f)", dispatchWithRequests,
                       dispatchWithRequests / max(dispatchAlone, 1e-9)),
                String(format: "requests         %d in %.1f s (%.0f/s), each timed from connect to its last byte",
                       total, seconds, Double(total) / max(seconds, 1e-9)),
                "route                                   n    p50 ms    p99 ms    max ms  failed",
            ]
            for r in routes {
                let q = Quantiles(r.latencies)
                lines.append(r.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                             + String(format: "%5d  %8.2f  %8.2f  %8.2f  %6d", r.latencies.count, q.at(0.5) * 1000,
                                      q.at(0.99) * 1000, q.max * 1000, r.failures))
            }
            return lines.joined(separator: "\n")
        }
    }

    struct BenchError: Error, CustomStringConvertible { var description: String }

    public func run(log: (String) -> Void) throws -> Result {
        let bench = try BenchCoordinator("http")
        defer { bench.close() }
        let coordinator = bench.coordinator
        let service = try DashboardService(host: "127.0.0.1", port: 0, token: nil, coordinator: coordinator)
        let serving = Task { try await service.run() }
        defer { serving.cancel() }
        let port = try Self.blocking { try await service.listeningPort(timeout: 30) }

        let client = try FarmClient(endpoint: bench.endpoint, timeoutMillis: 60_000)
        log("bench http: submitting \(jobs) jobs of \(segmentsPerJob) segments")
        let small = DispatchBenchmark.noopStoryboard(title: "queued", shots: 1, segmentsPerShot: segmentsPerJob)
        let ids = try (0..<jobs).map { _ in try client.submit(storyboard: small, source: "bench", priority: 0).job }
        // Load ahead of the queued jobs (chains of 100, 400 of them in parallel), topped up before each phase so that
        // it never runs dry: a release build finishes 40 000 no-op tasks in seconds, and a queue run dry would let the
        // queued jobs finish (their priority could no longer change) and make a phase measure nothing.
        let loadShots = 400, loadSegments = 100, perLoad = Double(loadShots * loadSegments)
        let load = DispatchBenchmark.noopStoryboard(title: "load", shots: loadShots, segmentsPerShot: loadSegments)
        var loaded = 0.0
        func topUp(rate: Double) throws {
            // What the next phase takes at `rate`, twice over, counting what is still queued.
            let done = Double(coordinator.loopStats.results)
            while loaded - done < 2 * rate * seconds + perLoad / 2 {
                _ = try client.submit(storyboard: load, source: "bench", priority: 10, reuse: false)
                loaded += perLoad
            }
        }
        log("bench http: submitting the load (\(loadShots * loadSegments) tasks a job) and starting \(workers) workers")
        try topUp(rate: 0)
        let stop = DispatchBenchmark.Flag(), recorder = DispatchBenchmark.Recorder()
        var threads: [Thread] = []
        for i in 0..<workers {
            let t = Thread { [endpoint = bench.endpoint, slots] in
                DispatchBenchmark.noopWorker(endpoint: endpoint, name: "bench-\(i)", slots: slots, security: nil,
                                             recorder: recorder, stop: stop)
            }
            t.start()
            threads.append(t)
        }
        defer { stop.set() }
        func rate(_ body: () -> Void) -> Double {
            let before = coordinator.loopStats.results, t0 = Date()
            body()
            return Double(coordinator.loopStats.results - before) / Date().timeIntervalSince(t0)
        }
        // The workers register and the queue starts draining; the rate seen meanwhile sizes the load.
        let warm = rate { Thread.sleep(forTimeInterval: 1) }
        try topUp(rate: max(warm, 1))
        log("bench http: \(seconds) s of dispatch alone")
        let alone = rate { Thread.sleep(forTimeInterval: seconds) }
        try topUp(rate: alone)
        log("bench http: \(seconds) s of dispatch with one event stream open")
        var events = 0
        let withEvents = rate { events = BenchHTTP.stream(port: port, "/api/events", seconds: seconds) }

        let routes: [(name: String, method: String, path: @Sendable (Int) -> String, body: Data)] = [
            ("GET / (the page)", "GET", { _ in "/" }, Data()),
            ("GET /app.js", "GET", { _ in "/app.js" }, Data()),
            ("GET /api/jobs (\(jobs + 1) jobs)", "GET", { _ in "/api/jobs" }, Data()),
            ("GET /api/jobs/{id}", "GET", { "/api/jobs/\(ids[$0 % ids.count])" }, Data()),
            ("GET /api/workers", "GET", { _ in "/api/workers" }, Data()),
            ("GET /api/farm", "GET", { _ in "/api/farm" }, Data()),
            ("GET /api/timeline?seconds=60", "GET", { _ in "/api/timeline?seconds=60&limit=2000" }, Data()),
            ("GET /metrics", "GET", { _ in "/metrics" }, Data()),
            ("GET /api/events (first event)", "GET", { _ in "/api/events" }, Data()),
            ("POST /api/jobs/{id}/priority", "POST", { "/api/jobs/\(ids[$0 % ids.count])/priority" },
             Data(#"{"priority": 0}"#.utf8)),
        ]
        try topUp(rate: alone)
        let samples = Samples(count: routes.count)
        log("bench http: \(seconds) s of dispatch with \(clients) clients requesting \(routes.count) routes in turn")
        let deadline = Date().addingTimeInterval(seconds)
        let busy = rate {
            let group = DispatchGroup()
            for c in 0..<clients {
                group.enter()
                Thread {
                    defer { group.leave() }
                    var n = c
                    while Date() < deadline {
                        let i = n % routes.count, route = routes[i]
                        let path = route.path(n / routes.count)
                        let t0 = Date()
                        let status = BenchHTTP.request(port: port, route.method, path, body: route.body,
                                                       untilEvent: i == 8)
                        samples.add(i, Date().timeIntervalSince(t0), ok: (200..<400).contains(status))
                        n += 1
                    }
                }.start()
            }
            group.wait()
        }
        let measured = samples.all()
        return Result(jobs: jobs, segments: jobs * segmentsPerJob, loadTasks: Int(loaded),
                      dispatchAlone: alone, dispatchWithEvents: withEvents, events: events,
                      dispatchWithRequests: busy, seconds: seconds,
                      routes: routes.indices.map { (routes[$0].name, measured[$0].latencies, measured[$0].failures) })
    }

    /// Runs async work from a thread outside the cooperative pool and waits for it.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultSlot<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        guard let result = box.get() else { throw BenchError(description: "no result") }
        return try result.get()
    }

    /// Latencies by route, from several threads.
    final class Samples: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(latencies: [Double], failures: Int)]
        init(count: Int) { items = Array(repeating: ([], 0), count: count) }
        func add(_ route: Int, _ seconds: Double, ok: Bool) {
            lock.withLock {
                items[route].latencies.append(seconds)
                if !ok { items[route].failures += 1 }
            }
        }
        func all() -> [(latencies: [Double], failures: Int)] { lock.withLock { items } }
    }

    final class ResultSlot<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Swift.Result<T, any Error>?
        func set(_ v: Swift.Result<T, any Error>) { lock.withLock { value = v } }
        func get() -> Swift.Result<T, any Error>? { lock.withLock { value } }
    }
}

/// A minimal HTTP/1.0 client for the benchmark: one connection a request, every read bounded by a 10 s timeout.
enum BenchHTTP {
    /// Reads an event stream for `seconds`; how many events came.
    static func stream(port: UInt16, _ path: String, seconds: Double) -> Int {
        guard let fd = connected(port: port) else { return 0 }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        let sent = request.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return 0 }
        var buffer = [UInt8](repeating: 0, count: 65_536), events = 0, tail: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds), marker = Array("event: snapshot".utf8)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            // Count markers across reads: keep the last few bytes of each read with the next.
            let chunk = tail + buffer[0..<n]
            var i = 0
            while i + marker.count <= chunk.count {
                let found = chunk[i..<(i + marker.count)].elementsEqual(marker)
                if found { events += 1 }
                i += found ? marker.count : 1
            }
            tail = Array(chunk.suffix(marker.count - 1))
        }
        return events
    }

    /// A socket connected to 127.0.0.1:`port` whose reads time out after 10 s.
    static func connected(port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// The status code, or 0 when the exchange failed.
    static func request(port: UInt16, _ method: String, _ path: String, body: Data = Data(), untilEvent: Bool = false)
        -> Int {
        guard let fd = connected(port: port) else { return 0 }
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n"
        if method == "POST" {
            head += "X-Reelfarm-CSRF: 1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        }
        let request = Array((head + "\r\n").utf8) + Array(body)
        let sent = request.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return 0 }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
            // An event stream never ends: its first whole event is the answer.
            if untilEvent, case let text = String(decoding: response, as: UTF8.self),
               let e = text.range(of: "event: snapshot"), text[e.upperBound...].contains("\n\n") { break }
        }
        let line = String(decoding: response.prefix(64), as: UTF8.self).split(separator: " ")
        guard line.count >= 2, let status = Int(line[1]) else { return 0 }
        return status
    }
}
