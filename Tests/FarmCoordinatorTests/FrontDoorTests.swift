@testable import FarmCoordinator
import FarmWire
import FlyingFox
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The front door of the coordinator's HTTP servers: heads are read with a size, count and time limit and checked
/// before the server sees them; bodies and answers are relayed whole, with backpressure; a client that stops sending
/// or reading is cut off; past the connection limit the answer is 503.
@Suite(.serialized, .timeLimit(.minutes(3))) struct FrontDoorTests {
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

    /// A FlyingFox server behind a door on a free loopback port: `/hello`, `/echo` (the body back) and `/big?mib=N`.
    final class Served: @unchecked Sendable {
        let door: FrontDoor
        let server: HTTPServer
        let task: Task<Void, any Error>

        init(limits: FrontDoorLimits = FrontDoorTests.limits) async throws {
            door = try FrontDoor(address: try .inet(ip4: "127.0.0.1", port: 0), text: "test endpoint", limits: limits)
            server = HTTPServer(address: .unix(path: door.backendPath), timeout: 15, logger: .disabled)
            await server.appendRoute("GET /hello") { _ in HTTPResponse(statusCode: .ok, body: Data("hi".utf8)) }
            await server.appendRoute("POST /echo") { request in
                HTTPResponse(statusCode: .ok, body: try await request.bodyData)
            }
            await server.appendRoute("GET /big") { request in
                HTTPResponse(statusCode: .ok, body: FrontDoorTests.pattern(mib: Int(request.query["mib"] ?? "") ?? 1))
            }
            let (server, door) = (server, door)
            task = Task { try await FrontDoor.serve(server, behind: door, address: "test") }
            try await server.waitUntilListening(timeout: 10)
        }

        func close() async {
            door.stop()
            await server.stop(timeout: 1)
            task.cancel()
        }
    }

    /// A blocking client socket whose every receive gives up after `timeout` seconds.
    struct Client {
        let fd: Int32
        init(port: UInt16, timeout: Int = 10) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
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
        func send(_ text: String) -> Bool { send(Array(text.utf8)) }
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

    static func split(_ response: [UInt8]) -> (head: String, body: [UInt8]) {
        guard let end = response.indices.first(where: { response[$0...].starts(with: [13, 10, 13, 10]) }) else {
            return (String(decoding: response, as: UTF8.self), [])
        }
        return (String(decoding: response[..<end], as: UTF8.self), Array(response[(end + 4)...]))
    }

    @Test func requestsBodiesAndLongAnswersGoThroughWhole() async throws {
        let served = try await Served()
        defer { Task { await served.close() } }
        let port = served.door.port
        let hello = try Client(port: port)
        #expect(hello.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"))
        let (helloHead, helloBody) = Self.split(hello.readAll().bytes)
        hello.close()
        #expect(helloHead.hasPrefix("HTTP/1.1 200"), "\(helloHead)")
        #expect(helloBody == Array("hi".utf8))
        // 3 MiB up in pieces, back whole.
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let echo = try Client(port: port)
        #expect(echo.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(payload.count)\r\n\r\n"))
        #expect(echo.send(payload))
        let (echoHead, echoBody) = Self.split(echo.readAll().bytes)
        echo.close()
        #expect(echoHead.hasPrefix("HTTP/1.1 200"), "\(echoHead)")
        #expect(echoBody == payload)
        // 32 MiB down: more than any buffer on the way holds.
        let big = try Client(port: port)
        #expect(big.send("GET /big?mib=32 HTTP/1.1\r\nHost: a\r\n\r\n"))
        let (bigHead, bigBody) = Self.split(big.readAll().bytes)
        big.close()
        #expect(bigHead.hasPrefix("HTTP/1.1 200"))
        #expect(bigBody.count == 32 << 20 && Data(bigBody) == Self.pattern(mib: 32))
        #expect(served.door.statistics[200] ?? 0 >= 2)
    }

    @Test func anEndlessHeadAndASlowOneAreAnsweredAndClosed() async throws {
        let served = try await Served()
        defer { Task { await served.close() } }
        // A header line without end: 431 after 4 KiB, whatever else follows.
        let endless = try Client(port: served.door.port)
        _ = endless.send("GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 64 << 10))
        let (endlessHead, endlessBody) = Self.split(endless.readAll().bytes)
        endless.close()
        #expect(endlessHead.hasPrefix("HTTP/1.1 431"), "\(endlessHead)")
        #expect(String(decoding: endlessBody, as: UTF8.self).contains("over 4096 bytes"))
        // Half a head, then nothing: 408 once the head's second is up.
        let slow = try Client(port: served.door.port)
        _ = slow.send("GET /hello HTTP/1.1\r\nHost: a\r\n")
        let (slowHead, _) = Self.split(slow.readAll().bytes)
        slow.close()
        #expect(slowHead.hasPrefix("HTTP/1.1 408"), "\(slowHead)")
        // A body that stops coming: the connection ends (the server never answers a body it did not get).
        let stalled = try Client(port: served.door.port)
        _ = stalled.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly this")
        let stalledResult = stalled.readAll()
        stalled.close()
        #expect(stalledResult.closed, "the door kept a stalled body open")
        // Chunked bodies are refused before the server sees them.
        let chunked = try Client(port: served.door.port)
        _ = chunked.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(Self.split(chunked.readAll().bytes).head.hasPrefix("HTTP/1.1 411"))
        chunked.close()
        // Counted once each connection is gone (the door lingers until the client closes).
        for _ in 0..<40 where served.door.statistics[411] == nil { try await Task.sleep(for: .milliseconds(50)) }
        let stats = served.door.statistics
        #expect(stats[431] == 1 && stats[408] == 1 && stats[411] == 1, "\(stats)")
    }

    @Test func pastTheConnectionLimitTheAnswerIs503AndAClientThatStopsReadingIsCutOff() async throws {
        var limits = Self.limits
        limits.headSeconds = 30
        let served = try await Served(limits: limits)
        defer { Task { await served.close() } }
        let idle = try (0..<4).map { _ in try Client(port: served.door.port) }
        // Let the door take the four before the fifth knocks.
        try await Task.sleep(for: .milliseconds(300))
        let fifth = try Client(port: served.door.port)
        let (fifthHead, _) = Self.split(fifth.readAll().bytes)
        fifth.close()
        #expect(fifthHead.hasPrefix("HTTP/1.1 503"), "\(fifthHead)")
        for c in idle { c.close() }
        try await Task.sleep(for: .milliseconds(300))
        // Room again: a request goes through.
        let again = try Client(port: served.door.port)
        _ = again.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(Self.split(again.readAll().bytes).head.hasPrefix("HTTP/1.1 200"))
        again.close()
        // 256 MiB asked for and not read for 3 s (the write limit is 1 s): the door hangs up, so the client finds far less.
        let sleeper = try Client(port: served.door.port)
        var small: Int32 = 64 << 10
        setsockopt(sleeper.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        _ = sleeper.send("GET /big?mib=256 HTTP/1.1\r\nHost: a\r\n\r\n")
        try await Task.sleep(for: .seconds(3))
        let taken = sleeper.readAll()
        sleeper.close()
        #expect(taken.closed && taken.bytes.count < 64 << 20, "\(taken.bytes.count) bytes, closed: \(taken.closed)")
    }
}
