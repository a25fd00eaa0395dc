@testable import FarmCoordinator
import FarmWire
import FlyingSocks
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
import FarmTesting
#endif

/// The front door of the coordinator's HTTP servers: heads are read with a size, count and time limit and checked
/// before the server sees them; bodies and answers are relayed whole, with backpressure; a client that stops sending
/// or reading is cut off; past the connection limit the answer is 503.
@Suite(.serialized, .timeLimit(.minutes(3)), .ownThreads) struct FrontDoorTests {
    static let limits: FrontDoorLimits = {
        var l = FrontDoorLimits()
        l.headBytes = 4_096
        l.headers = 20
        l.headSeconds = 1
        l.bodyIdleSeconds = 1
        l.writeIdleSeconds = 1
        l.connections = 4
        return l
    }()

    // MARK: The head, alone

    func parse(_ text: String, limits: FrontDoorLimits = Self.limits) throws -> RequestHead? {
        try RequestHead.parse(Array(text.utf8)[...], limits: limits)
    }

    func refusal(_ text: String) -> Int? {
        do { _ = try parse(text); return nil } catch let r as HeadRefusal { return r.status } catch { return -1 }
    }

    @Test func aHeadIsForwardedWithConnectionClose() throws {
        let head = try #require(try parse("POST /api/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n"
                                          + "Content-Length: 3\r\n\r\nabcNEXT"))
        #expect(String(decoding: head.forwarded, as: UTF8.self)
                == "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        #expect(head.bodyLength == 3)
        #expect(head.consumed == "POST /api/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\nContent-Length: 3\r\n\r\n".utf8.count)
        // Bare line feeds are accepted (RFC 9112 §2.2) and forwarded as CRLF.
        let bare = try #require(try parse("GET / HTTP/1.0\nHost: a\n\n"))
        #expect(String(decoding: bare.forwarded, as: UTF8.self) == "GET / HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n")
        // Incomplete: nothing yet.
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\n") == nil)
        #expect(try parse("") == nil)
    }

    @Test func everyBrokenOrOversizedHeadIsRefusedWithItsStatus() {
        #expect(refusal(String(repeating: "a", count: 5_000)) == 431)  // no line end at all
        #expect(refusal("GET /" + String(repeating: "a", count: 5_000) + " HTTP/1.1\r\n\r\n") == 431)
        #expect(refusal("GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 21) + "\r\n") == 431)
        #expect(refusal("GET / HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 20) + "\r\n") == nil)
        #expect(refusal("GET /\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/2.0\r\n\r\n") == 400)
        #expect(refusal("G(T / HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET /a b HTTP/1.1\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nNoColon\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nA: b\u{1}c\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400)
        #expect(refusal("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400)
        #expect(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 411)
        #expect(refusal("\r\n\r\n") == 400)
        let answer = String(decoding: HeadRefusal(status: 431, message: "a \"quoted\" word").response, as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(answer.hasSuffix("\r\n\r\n{\"error\":\"a \\\"quoted\\\" word\"}"))
    }

    /// 20 000 mutations of real heads (bytes flipped, cut, repeated, inserted; SplitMix64, the same every run): the
    /// reader returns, waits or refuses, and what it forwards it accepts again unchanged (`Scripts/fuzz http` runs
    /// the same check under libFuzzer).
    @Test func mutatedHeadsNeverTrapAndForwardedHeadsAreStable() {
        var state: UInt64 = 0x5EED_F00D
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let seeds = [
            "GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n\r\n",
            "POST /api/jobs/ab/priority HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\nConnection: keep-alive\r\n\r\n{}",
            "GET / HTTP/1.0\nHost: a\n\n",
        ].map { Array($0.utf8) }
        let alphabet = Array(" :\r\n\t\u{0}\u{7f}aZ0-/%HTTP/1.1Content-LengthTransfer-Encoding9".utf8)
        var accepted = 0, refused = 0, waiting = 0
        for _ in 0..<20_000 {
            var bytes = seeds[Int(next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(next() % 4)) {
                let at = bytes.isEmpty ? 0 : Int(next() % UInt64(bytes.count))
                switch next() % 5 {
                case 0 where !bytes.isEmpty: bytes[at] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                case 2 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(next() % 8)))
                case 3: bytes = Array(bytes.prefix(at))
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + Int(next() % 16))], at: at)
                }
            }
            do {
                guard let head = try RequestHead.parse(bytes[...], limits: Self.limits) else {
                    waiting += 1
                    #expect(bytes.count < Self.limits.headBytes)
                    continue
                }
                accepted += 1
                #expect(head.consumed <= bytes.count && head.forwarded.suffix(21).elementsEqual("Connection: close\r\n\r\n".utf8))
                let again = try RequestHead.parse(head.forwarded[...], limits: Self.limits)
                #expect(again?.forwarded == head.forwarded && again?.bodyLength == head.bodyLength,
                        "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            } catch {
                refused += 1
                #expect(error is HeadRefusal)
            }
        }
        // The mutations reach every outcome.
        #expect(accepted > 1_000 && refused > 1_000 && waiting > 1_000, "\(accepted) \(refused) \(waiting)")
    }

    // MARK: A real server behind a real door

    /// `mib` MiB of a pattern whose period (256) divides a MiB.
    static func pattern(mib: Int) -> Data {
        let block = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var data = Data(capacity: mib << 20)
        for _ in 0..<mib { data.append(block) }
        return data
    }

    /// A plain HTTP/1.1 server of threads behind a door on a free loopback port: `/hello`, `/echo` (the body back)
    /// and `/big?mib=N`, each answer with `Connection: close`. Threads, not Swift's cooperative pool: the other suites
    /// block that pool for seconds at a time, and a FlyingFox server on it starved in CI. (FlyingFox behind the door
    /// is what the dashboard's and the metrics' tests run, in real coordinator processes.)
    final class Served: @unchecked Sendable {
        let door: FrontDoor
        private let listener: Int32

        init(limits: FrontDoorLimits = FrontDoorTests.limits) throws {
            door = try FrontDoor(address: try .inet(ip4: "127.0.0.1", port: 0), text: "test endpoint", flag: "--test",
                                limits: limits)
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un.unix(path: door.backendPath)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, listen(fd, 64) == 0 else { throw DashboardSetupError("test server: errno \(errno)") }
            listener = fd
            Thread {
                while true {
                    let client = accept(fd, nil, nil)
                    guard client >= 0 else { return }
                    Thread { Served.answer(client) }.start()
                }
            }.start()
            door.start()
        }

        func close() {
            door.stop()
            shutdown(listener, Int32(SHUT_RDWR))  // wakes the accepting thread
            Glibc.close(listener)
        }

        /// Reads one request (head, then `Content-Length` bytes) and answers it.
        static func answer(_ fd: Int32) {
            defer { Glibc.close(fd) }
            var tv = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var input: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            func fill() -> Bool {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { input += buffer[0..<n] }
                return n > 0
            }
            var end: Int?
            while end == nil {
                guard input.count < 1 << 16, fill() else { return }
                end = input.indices.first { input[$0...].starts(with: [13, 10, 13, 10]) }.map { $0 + 4 }
            }
            guard let end else { return }
            let lines = String(decoding: input[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let request = lines[0].split(separator: " ")
            guard request.count == 3 else { return }
            let length = lines.dropFirst().compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
            while input.count - end < length { guard fill() else { return } }
            let body: [UInt8]
            let target = String(request[1])
            switch (request[0], target.split(separator: "?").first.map(String.init) ?? target) {
            case ("GET", "/hello"): body = Array("hi".utf8)
            case ("POST", "/echo"): body = Array(input[end..<(end + length)])
            case ("GET", "/big"): body = [UInt8](FrontDoorTests.pattern(mib: Int(target.split(separator: "=").last ?? "") ?? 1))
            default: body = Array("no such route".utf8)
            }
            let head = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
            for part in [head, body] {
                var sent = 0
                while sent < part.count {
                    let n = part[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard n > 0 else { return }
                    sent += n
                }
            }
        }
    }

    /// A blocking client socket whose every receive gives up after `timeout` seconds.
    struct Client {
        let fd: Int32
        init(port: UInt16, timeout: Int = 30, receiveBuffer: Int32? = nil) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if var size = receiveBuffer {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var a = try sockaddr_in.inet(ip4: "127.0.0.1", port: port)
            let rc = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { throw DashboardSetupError("connect: errno \(errno)") }
        }
        func send(_ bytes: [UInt8]) -> Bool {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }
        /// Everything until the server closes, or what came before the receive timeout (then `closed` is false).
        func readAll() -> (bytes: [UInt8], closed: Bool) {
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { return (out, true) }
                if n < 0 { return (out, errno == ECONNRESET) }
                out += buffer[0..<n]
            }
        }
        func close() { Glibc.close(fd) }
    }

    /// What came back for one exchange.
    struct Answer: Sendable {
        var head: String
        var body: [UInt8]
        var closed: Bool
    }

    /// Connects, sends `parts` in turn, waits `pause` seconds, then reads to the end: on a thread of its own, never on
    /// Swift's cooperative pool, which the server behind the door runs on (a blocked pool thread starved it in CI).
    static func exchange(port: UInt16, _ parts: [String], bytes: [UInt8] = [], receiveBuffer: Int32? = nil,
                         beforeReading: (@Sendable () -> Void)? = nil) async throws -> Answer {
        try await offPool {
            let c = try Client(port: port, receiveBuffer: receiveBuffer)
            defer { c.close() }
            for p in parts { _ = c.send(Array(p.utf8)) }
            if !bytes.isEmpty { _ = c.send(bytes) }
            beforeReading?()
            let r = c.readAll()
            let (head, body) = split(r.bytes)
            return Answer(head: head, body: body, closed: r.closed)
        }
    }

    static func split(_ response: [UInt8]) -> (head: String, body: [UInt8]) {
        guard let end = response.indices.first(where: { response[$0...].starts(with: [13, 10, 13, 10]) }) else {
            return (String(decoding: response, as: UTF8.self), [])
        }
        return (String(decoding: response[..<end], as: UTF8.self), Array(response[(end + 4)...]))
    }

    @Test func requestsBodiesAndLongAnswersGoThroughWhole() async throws {
        // Limits no loaded machine reaches: this is about bytes, not time.
        var roomy = Self.limits
        (roomy.headSeconds, roomy.bodyIdleSeconds, roomy.writeIdleSeconds) = (30, 30, 30)
        let served = try Served(limits: roomy)
        let port = served.door.port
        let hello = try await Self.exchange(port: port, ["GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"])
        #expect(hello.head.hasPrefix("HTTP/1.1 200") && hello.closed, "\(hello.head)")
        #expect(hello.body == Array("hi".utf8))
        // 3 MiB up in pieces, back whole.
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let echo = try await Self.exchange(port: port, ["POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(payload.count)\r\n\r\n"],
                                           bytes: payload)
        #expect(echo.head.hasPrefix("HTTP/1.1 200"), "\(echo.head)")
        #expect(echo.body == payload)
        // 32 MiB down: more than any buffer on the way holds.
        let big = try await Self.exchange(port: port, ["GET /big?mib=32 HTTP/1.1\r\nHost: a\r\n\r\n"])
        #expect(big.head.hasPrefix("HTTP/1.1 200"), "\(big.head)")
        #expect(big.body.count == 32 << 20 && Data(big.body) == Self.pattern(mib: 32))
        #expect(served.door.statistics[200] ?? 0 >= 2)
        served.close()
    }

    @Test func anEndlessHeadAndASlowOneAreAnsweredAndClosed() async throws {
        let served = try Served()
        let port = served.door.port
        // A header line without end: 431 after 4 KiB, whatever else follows.
        let endless = try await Self.exchange(port: port, ["GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 64 << 10)])
        #expect(endless.head.hasPrefix("HTTP/1.1 431"), "\(endless.head)")
        #expect(String(decoding: endless.body, as: UTF8.self).contains("over 4096 bytes"))
        // Half a head, then nothing: 408 once the head's second is up.
        let slow = try await Self.exchange(port: port, ["GET /hello HTTP/1.1\r\nHost: a\r\n"])
        #expect(slow.head.hasPrefix("HTTP/1.1 408"), "\(slow.head)")
        // A body that stops coming: the connection ends (the server never answers a body it did not get).
        let stalled = try await Self.exchange(port: port, ["POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly this"])
        #expect(stalled.closed && !stalled.head.hasPrefix("HTTP/1.1 200"), "the door kept a stalled body open")
        // Chunked bodies are refused before the server sees them.
        let chunked = try await Self.exchange(port: port, ["POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"])
        #expect(chunked.head.hasPrefix("HTTP/1.1 411"), "\(chunked.head)")
        // Counted once each connection is gone (the door lingers until the client closes).
        for _ in 0..<100 where served.door.statistics[411] == nil { try await Task.sleep(for: .milliseconds(50)) }
        let stats = served.door.statistics
        #expect(stats[431] == 1 && stats[408] == 1 && stats[411] == 1, "\(stats)")
        served.close()
    }

    @Test func pastTheConnectionLimitTheAnswerIs503AndAClientThatStopsReadingIsCutOff() async throws {
        var limits = Self.limits
        limits.headSeconds = 60
        let served = try Served(limits: limits)
        let port = served.door.port
        let idle = try await offPool { try (0..<4).map { _ in try Client(port: port) } }
        // Let the door take the four before the fifth knocks.
        for _ in 0..<100 where served.door.openLinks < 4 { try await Task.sleep(for: .milliseconds(50)) }
        let fifth = try await Self.exchange(port: port, [])
        #expect(fifth.head.hasPrefix("HTTP/1.1 503"), "\(fifth.head)")
        for c in idle { c.close() }
        for _ in 0..<100 where served.door.openLinks > 0 { try await Task.sleep(for: .milliseconds(50)) }
        // Room again: a request goes through.
        let again = try await Self.exchange(port: port, ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"])
        #expect(again.head.hasPrefix("HTTP/1.1 200"), "\(again.head)")
        // 64 MiB asked for and not read until the door has hung up (the write limit is 1 s without progress): the
        // client then finds far less than it asked for, and the end.
        for _ in 0..<100 where served.door.openLinks > 0 { try await Task.sleep(for: .milliseconds(50)) }
        let door = served.door, relayed = door.statistics[200] ?? 0
        let sleeper = try await Self.exchange(port: port, ["GET /big?mib=64 HTTP/1.1\r\nHost: a\r\n\r\n"],
                                              receiveBuffer: 64 << 10) {
            let deadline = Date().addingTimeInterval(60)
            while (door.statistics[200] ?? 0) <= relayed, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect((door.statistics[200] ?? 0) > relayed, "the door never hung up on a client that stopped reading")
        #expect(sleeper.closed && sleeper.body.count < 32 << 20, "\(sleeper.body.count) bytes, closed: \(sleeper.closed)")
        served.close()
    }
}
