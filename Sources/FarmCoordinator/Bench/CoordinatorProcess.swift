import FarmPosix
import Foundation

/// A `reelfarm coordinator` child process for a benchmark that must measure it from outside (CPU and RSS from
/// `/proc`, metrics over HTTP, joins and deaths from its log, SIGSTOP): data in `directory`, loopback, free ports.
final class CoordinatorProcess: @unchecked Sendable {
    let process: ChildProcess
    let endpoint: String
    private let metricsPort: UInt16
    private let lines: LogLines

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(executable: URL, directory: URL) throws {
        process = try ChildProcess(executable, ["coordinator", "--data", directory.path, "--bind", "tcp://127.0.0.1:*",
                                                "--metrics", "127.0.0.1:0"], stdin: .null, stdout: .null, stderr: .pipe)
        let err = process.standardError
        let started = DispatchSemaphore(value: 0)
        let lines = LogLines()
        self.lines = lines
        let reader = Thread {
            var buffer = Data()
            while true {
                let chunk = err?.availableData ?? Data()
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 10) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    lines.note(line, started: started)
                }
            }
            started.signal()
        }
        reader.start()
        _ = started.wait(timeout: .now() + 30)
        _ = started.wait(timeout: .now() + 30)
        guard let endpoint = lines.endpoint, let port = lines.port else {
            process.send(SIGTERM)
            throw Failure(description: "the coordinator did not start (no endpoint or metrics port in its log)")
        }
        self.endpoint = endpoint
        metricsPort = port
    }

    /// What the coordinator's log said, noted by the reading thread.
    private final class LogLines: @unchecked Sendable {
        private let lock = NSLock()
        private var found: (endpoint: String?, port: UInt16?) = (nil, nil)
        private var deathTimes: [(name: String, at: Double)] = []
        private var joinCount = 0
        private var recent: [String] = []
        /// The last lines other than joins and deaths (for a failure's message).
        var tail: [String] { lock.withLock { recent } }

        var endpoint: String? { lock.withLock { found.endpoint } }
        var port: UInt16? { lock.withLock { found.port } }
        var deaths: [(name: String, at: Double)] { lock.withLock { deathTimes } }
        var joins: Int { lock.withLock { joinCount } }

        func note(_ line: String, started: DispatchSemaphore) {
            let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            if !line.contains(" joined: ") && !line.contains(" is dead (silent") {
                lock.withLock {
                    recent.append(line)
                    if recent.count > 20 { recent.removeFirst() }
                }
            }
            if let r = line.range(of: "listening on ") {
                lock.withLock { found.endpoint = String(line[r.upperBound...].prefix { $0 != "," && $0 != " " }) }
                started.signal()
            } else if let r = line.range(of: "metrics on http://127.0.0.1:") {
                lock.withLock { found.port = UInt16(line[r.upperBound...].prefix { $0.isNumber }) }
                started.signal()
            } else if line.contains(" is dead (silent"), let r = line.range(of: "worker ") {
                // "worker sw0-12-3fa9c1 is dead (silent 3.0 s)": the simulated worker's name is the id less its suffix.
                let id = line[r.upperBound...].prefix { $0 != " " }
                let name = id.split(separator: "-").dropLast().joined(separator: "-")
                lock.withLock { deathTimes.append((name, now)) }
            } else if line.contains(" joined: ") {
                lock.withLock { joinCount += 1 }
            }
        }
    }

    var pid: pid_t { process.processIdentifier }
    /// The coordinator's last log lines other than joins.
    var logTail: String { lines.tail.joined(separator: "\n") }
    var deaths: [(name: String, at: Double)] { lines.deaths }
    /// Joins the coordinator logged (on a large farm it logs reconnects and every thousandth new worker).
    var joins: Int { lines.joins }
    func deathTime(ofWorkerNamed name: String) -> Double? { lines.deaths.first { $0.name == name }?.at }

    /// User + system CPU seconds of the process so far.
    func cpuSeconds() throws -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { throw Failure(description: "cannot read /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw Failure(description: "unexpected /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds by thread name (`reelfarm-coordi…` the loop, `ZMQbg/IO/0` libzmq's I/O thread, …).
    func threadCPUSeconds() -> [String: Double] {
        var out: [String: Double] = [:]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for tid in tasks {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = String(stat[stat.index(after: open)..<close])
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            out[name, default: 0] += (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        return out
    }

    func rssBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }

    /// One value from `/metrics` (the first sample of that name).
    func metric(_ name: String) throws -> Double? {
        for line in try scrape().split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// The loop-busy histogram as the coordinator last published it.
    func busyHistogram() throws -> LoopHistogram {
        let text = try scrape()
        var cumulative: [Int] = []
        var sum = 0.0, max = 0.0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("reelfarm_loop_busy_seconds_bucket{"), let v = Int(line.split(separator: " ").last ?? "") {
                cumulative.append(v)
            } else if line.hasPrefix("reelfarm_loop_busy_seconds_sum ") {
                sum = Double(line.split(separator: " ").last ?? "") ?? 0
            } else if line.hasPrefix("reelfarm_loop_busy_seconds_max ") {
                max = Double(line.split(separator: " ").last ?? "") ?? 0
            }
        }
        guard cumulative.count == LoopHistogram.bounds.count + 1 else { throw Failure(description: "no loop histogram in /metrics") }
        let counts = cumulative.indices.map { $0 == 0 ? cumulative[0] : cumulative[$0] - cumulative[$0 - 1] }
        return LoopHistogram(counts: counts, sum: sum, max: max)
    }

    /// `GET /metrics` over a plain socket with a 10 s deadline.
    func scrape() throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = metricsPort.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw Failure(description: "cannot connect to the metrics port \(metricsPort): errno \(errno)") }
        let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let separator = Data("\r\n\r\n".utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
            // The server may keep the connection open: stop once Content-Length bytes of body are in.
            if let end = response.range(of: separator) {
                let head = String(decoding: response[..<end.lowerBound], as: UTF8.self).lowercased()
                if let r = head.range(of: "content-length:"),
                   let length = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)),
                   response.count - end.upperBound >= length { break }
            }
        }
        guard let end = response.range(of: separator) else { throw Failure(description: "no HTTP response from the metrics port") }
        return String(decoding: response[end.upperBound...], as: UTF8.self)
    }

    func stop() {
        kill(pid, SIGCONT)
        process.send(SIGTERM)
        if process.wait(seconds: 10) == nil { process.send(SIGKILL) }
    }
}
