@testable import FarmCoordinator
import FarmCore
import FarmStore
import FarmWire
@testable import FarmWorker
import Foundation
import Testing
import FarmTesting

/// Registration at scale: a hello again on one connection is the same worker, the `workers` reply is bounded, and a
/// worker that loses its coordinator comes back on a jittered, growing schedule.
@Suite(.serialized, .timeLimit(.minutes(3)), .ownThreads) struct WorkerRegistrationTests {
    func hello(_ name: String, running: [Lease] = []) -> WireMessage {
        WireMessage(.hello, Hello(name: name, engines: ["testcard"], device: "cpu", slots: 1, memoryBytes: 1 << 30,
                                  maxFramePixels: 1 << 22, tags: [], running: running))
    }

    /// An idle heartbeat (the coordinator's fast path) is handled like any other: from a peer that never said hello
    /// it is refused as `unknown-peer` with its sequence, as is the same heartbeat in other bytes; after a hello it
    /// keeps the worker alive past the liveness limit.
    @Test func anIdleHeartbeatIsRefusedFromStrangersAndKeepsAWorkerAlive() throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        let peer = try RawPeer(endpoint)
        try peer.send(WireMessage(.heartbeat, Heartbeat(), sequence: 41))
        var spaced = WireMessage(.heartbeat, Heartbeat(), sequence: 42).frames
        spaced[1] = Data(#"{ "running": [] }"#.utf8)
        try peer.sendRaw(spaced)
        for sequence: UInt32 in [41, 42] {
            let refusal = try #require(try peer.next([.refused]))
            let kind = try refusal.payload(Refusal.self).kind
            #expect(refusal.sequence == sequence && kind == .unknownPeer)
        }
        try peer.send(hello("idle"))
        let id = try #require(try peer.next([.welcome])).payload(Welcome.self).workerId
        let deadline = Date().addingTimeInterval(Double(CoordinatorConfiguration.defaultDeadAfterMillis) / 1000 + 1.5)
        while Date() < deadline {
            try peer.send(WireMessage(.heartbeat, Heartbeat()))
            Thread.sleep(forTimeInterval: 0.3)
        }
        let report = try FarmClient(endpoint: endpoint).workers()
        #expect(report.workers.map(\.id) == [id] && report.workers.first?.state == "alive", "\(report.workers)")
        #expect(report.refused["unknown-peer"] == 2)
    }

    /// The welcome says how often the coordinator beats this worker (10 s by default: a 25 s silence limit), and it
    /// beats that often. Counted, not timed: a coordinator that ignored the setting would send none in 2.4 s.
    @Test func theWelcomeSaysHowOftenTheCoordinatorBeatsAndItDoes() throws {
        let (plain, plainEndpoint) = try inProcessCoordinator(try temporaryDirectory())
        let usual = try RawPeer(plainEndpoint)
        try usual.send(hello("usual"))
        let defaults = try #require(try usual.next([.welcome])).payload(Welcome.self)
        plain.stop()
        plain.wait()
        #expect(defaults.beatMillis == 10_000 && defaults.silenceMillis == 25_000)
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory()) { $0.beatMillis = 400 }
        defer { coordinator.stop(); coordinator.wait() }
        let peer = try RawPeer(endpoint)
        try peer.send(hello("beaten"))
        let welcome = try #require(try peer.next([.welcome])).payload(Welcome.self)
        #expect(welcome.beatMillis == 400 && welcome.silenceMillis == 1_000)
        var beats = 0
        let end = Date().addingTimeInterval(2.4)
        while Date() < end {
            try peer.send(WireMessage(.heartbeat, Heartbeat()))
            if try peer.next([.heartbeat], seconds: 0.3) != nil { beats += 1 }
        }
        #expect((3...9).contains(beats), "\(beats) beats in 2.4 s at one every 0.4 s")
    }

    @Test func aHelloAgainOnOneConnectionKeepsItsRowAndTheLeasesItLists() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: CoordinatorProtocolTests.storyboard("one", shots: ["a"], steps: 50),
                                    source: "one.yaml", priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("plain"))
        let id = try #require(try peer.next([.welcome])).payload(Welcome.self).workerId
        let lease = try #require(try peer.next([.assign])).payload(Assign.self).lease
        // Three hellos on one connection, without an instance id: still one worker, one row, and its lease.
        for _ in 0..<3 {
            try peer.send(hello("plain", running: [lease]))
            let again = try #require(try peer.next([.welcome])).payload(Welcome.self)
            #expect(again.workerId == id && again.drop.isEmpty)
        }
        let report = try client.workers()
        #expect(report.workers.map(\.id) == [id] && report.workers.first?.state == "alive" && report.workers.first?.busy == 1,
                "\(report.workers)")
        #expect(report.connected == 1 && report.total == 1 && (report.capacity ?? 0) > 0)
        let status = try client.status(job: job)
        let running = (status.tasks ?? []).filter { $0.state == "running" }.count
        #expect(running == 1 && (status.attempts ?? []).count == 1)
    }

    @Test func theWorkersReplyPutsConnectedWorkersFirstWithTotals() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let silent = try RawPeer(endpoint)
        try silent.send(hello("silent"))
        _ = try #require(try silent.next([.welcome]))
        let live = try RawPeer(endpoint)
        try live.send(hello("live"))
        _ = try #require(try live.next([.welcome]))
        let client = try FarmClient(endpoint: endpoint)
        // The silent one dies after the liveness limit; the live one keeps beating.
        var report = try client.workers()
        let deadline = Date().addingTimeInterval(20)
        while report.states?["dead"] == nil, Date() < deadline {
            try live.send(WireMessage(.heartbeat, Heartbeat()))
            Thread.sleep(forTimeInterval: 0.3)
            report = try client.workers()
        }
        #expect(report.workers.map(\.state) == ["alive", "dead"] && report.workers.first?.name == "live", "\(report.workers)")
        #expect(report.total == 2 && report.offset == 0 && report.connected == 1 && report.states == ["alive": 1, "dead": 1])
        #expect(try client.workers(offset: 1).workers.map(\.name) == ["silent"])
        #expect(throws: FarmClient.ClientError.self) { try client.workers(offset: -1) }
        // The formatter says where a page is when there are more.
        var page = report
        page.total = 1_234
        #expect(StatusFormatter.workers(page).contains("workers 1–2 of 1234 (--offset N for more)"))
        #expect(StatusFormatter.workers(page).contains("connected: 1 of at most"))
    }

    @Test func reconnectsBackOffWithJitterAndStartOverOnceHeard() {
        var backoff = ReconnectBackoff()
        // The first try waits past a stall of a few seconds: base…2·base.
        #expect(backoff.next(random: { $0.lowerBound }) == 10 && backoff.next(random: { $0.upperBound }) == 20)
        var waits: [Double] = []
        for _ in 0..<8 { waits.append(backoff.next(random: { $0.upperBound })) }
        #expect(waits == [40, 80, 120, 120, 120, 120, 120, 120], "\(waits)")
        // Jitter spreads a farm: the lowest draw is half the ceiling.
        #expect(backoff.next(random: { $0.lowerBound }) == 60)
        backoff.reset()
        #expect(backoff.due == nil && backoff.next(random: { $0.upperBound }) == 20)
    }
}
