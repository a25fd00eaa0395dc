import FarmWire
import Foundation

/// One process's share of `reelfarm bench swarm`: `workers` simulated workers, each its own DEALER socket that says
/// hello, heartbeats once a period at its own phase and reads what the coordinator sends; at `killAt` seconds after
/// start it silences `kills` of them (socket closed, like a SIGKILL). Prints one JSON ``Report`` line when done.
///
/// A process of its own because every socket costs two descriptors (its connection and its mailbox), and a
/// process's descriptor limit must leave the coordinator's count as the one that decides the farm's size.
public struct SwarmAgent {
    public var endpoint: String
    public var prefix: String
    public var workers: Int
    public var heartbeatMillis: Int
    /// Connections opened per second while ramping up.
    public var rampPerSecond: Int
    public var seconds: Double
    public var killAt: Double
    public var kills: Int

    public init(endpoint: String, prefix: String, workers: Int, heartbeatMillis: Int, rampPerSecond: Int, seconds: Double,
                killAt: Double, kills: Int) {
        self.endpoint = endpoint
        self.prefix = prefix
        self.workers = workers
        self.heartbeatMillis = heartbeatMillis
        self.rampPerSecond = rampPerSecond
        self.seconds = seconds
        self.killAt = killAt
        self.kills = kills
    }

    /// What the agent saw, in monotonic seconds (one clock for every process on the machine).
    public struct Report: Codable, Sendable {
        public var welcomed = 0
        /// Hellos sent after the first (the coordinator did not know the worker any more).
        public var rehellos = 0
        public var refusals = 0
        /// When the last simulated worker was welcomed (read at its next heartbeat turn: up to a period late).
        public var lastWelcome = 0.0
        /// How late heartbeats left against their schedule (the simulator's own lateness).
        public var latenessP99 = 0.0
        public var latenessMax = 0.0
        /// Worker name → when it last sent a heartbeat before its socket was closed (its silence starts there).
        public var killed: [String: Double] = [:]
    }

    static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    public func run() throws -> Report {
        let context = ZMQContext(maxSockets: Int32(workers + 16))
        let period = Double(heartbeatMillis) / 1000
        var report = Report()
        var sockets: [ZMQSocket?] = []
        var nextBeat: [Double] = []
        var lastBeat: [Double] = []
        var welcomed = [Bool](repeating: false, count: workers)
        var lateness: [Double] = []
        let start = Self.clock
        let beat = WireMessage(.heartbeat, Heartbeat(running: [])).frames
        func name(_ i: Int) -> String { "\(prefix)-\(i)" }
        let process = UInt32.random(in: 0 ... .max)
        func hello(_ i: Int) throws {
            let instance = String(format: "%08x%08x", process, UInt32(i))
            let h = Hello(name: name(i), engines: ["testcard"], device: "cpu", slots: 1, memoryBytes: 1 << 30,
                          maxFramePixels: 1 << 20, tags: [], running: [], instance: instance)
            try sockets[i]?.send(WireMessage(.hello, h).frames, dontWait: true)
        }
        while Self.clock - start < seconds {
            let now = Self.clock
            // Ramp: open the connections due by now.
            let due = min(workers, Int((now - start) * Double(rampPerSecond)) + 1)
            while sockets.count < due {
                let s = try ZMQSocket(context, .dealer)
                try s.setHighWaterMark(1_000)
                try s.connect(endpoint)
                sockets.append(s)
                // Phases spread evenly over the period, as independent workers' would be.
                nextBeat.append(now + period * Double(sockets.count % 1_000) / 1_000)
                lastBeat.append(now)
                try hello(sockets.count - 1)
            }
            if kills > 0, report.killed.isEmpty, now - start >= killAt {
                // Spread over the workers, a socket closed at an uneven moment of each one's heartbeat period.
                let stride = max(1, sockets.count / kills)
                for i in Swift.stride(from: 0, to: min(sockets.count, stride * kills), by: stride) {
                    sockets[i]?.close()
                    sockets[i] = nil
                    report.killed[name(i)] = lastBeat[i]
                }
            }
            for i in sockets.indices where nextBeat[i] <= now {
                guard let s = sockets[i] else { continue }
                lateness.append(now - nextBeat[i])
                nextBeat[i] += period * max(1, ((now - nextBeat[i]) / period).rounded(.down) + 1)
                try? s.send(beat, dontWait: true)
                lastBeat[i] = Self.clock
                while let frames = try? s.receive(dontWait: true) {
                    guard let m = try? WireMessage(frames: frames) else { continue }
                    switch m.command {
                    case .welcome:
                        if !welcomed[i] {
                            welcomed[i] = true
                            report.welcomed += 1
                            report.lastWelcome = Self.clock
                        }
                    case .refused:
                        report.refusals += 1
                        if (try? m.payload(Refusal.self))?.kind == .unknownPeer {
                            report.rehellos += 1
                            try? hello(i)
                        }
                    default: break
                    }
                }
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        lateness.sort()
        report.latenessP99 = lateness.isEmpty ? 0 : lateness[min(lateness.count - 1, Int(Double(lateness.count) * 0.99))]
        report.latenessMax = lateness.last ?? 0
        for s in sockets { s?.close() }
        return report
    }
}
