import FarmWire
import FarmPosix
import Foundation

/// `reelfarm bench swarm`: a real coordinator process against `workers` simulated workers (``SwarmAgent`` processes,
/// each with many DEALER sockets and heartbeats spread over the period). After the ramp it measures a steady window —
/// the coordinator's CPU (from `/proc`), its RSS, the loop's busy time per iteration (from its `/metrics`
/// histogram), deaths of workers that were alive (false deaths) — then silences `kills` workers and times their
/// detection, then stops the coordinator with SIGSTOP for `stall` seconds and checks that it recovers without
/// declaring anyone dead and without a storm of re-registrations.
public struct SwarmBenchmark {
    public var workers: Int
    public var window: Double
    public var kills: Int
    public var stall: Double
    public var executable: URL
    public var perAgent = 5_000

    public init(workers: Int, window: Double, kills: Int, stall: Double, executable: URL) {
        self.workers = workers
        self.window = window
        self.kills = kills
        self.stall = stall
        self.executable = executable
    }

    struct BenchError: Error, CustomStringConvertible { var description: String }

    public struct Result: CustomStringConvertible, Sendable {
        public var requested: Int
        public var workers: Int
        public var limitNote: String?
        public var rampSeconds: Double
        public var window: Double
        public var cpuFraction: Double
        /// The coordinator's CPU by thread (name, fraction of a core).
        public var threads: [(String, Double)] = []
        public var rssBytes: Int
        public var busyP99: Double
        public var busyMaxBucket: Double
        public var busyMax: Double
        /// Loop iterations per second in the window (each reads what queued, commits once and sends).
        public var iterationsPerSecond: Double
        public var falseDeaths: Int
        public var detection: [Double]
        public var deadLimit: Double
        public var stall: Double
        public var stallDeaths: Int
        public var stallRehellos: Int
        public var stallRecovery: Double?
        public var agentRehellos: Int
        public var latenessP99: Double
        public var latenessMax: Double

        public var description: String {
            func ms(_ s: Double) -> String { s.isInfinite ? "> 5000 ms" : String(format: "%.0f ms", s * 1000) }
            let q = Quantiles(detection)
            var lines = [
                "workers            \(workers) simulated (one DEALER each, 1 s heartbeats)"
                    + (requested != workers ? " of \(requested) asked" : ""),
            ]
            if let limitNote { lines.append("limit              \(limitNote)") }
            lines += [
                String(format: "ramp               %.1f s to register them all", rampSeconds),
                String(format: "coordinator CPU    %.1f %% of one core over %.0f s (goal < 25 %%)", cpuFraction * 100, window)
                    + (threads.isEmpty ? "" : ": " + threads.map { String(format: "%@ %.1f %%", $0.0, $0.1 * 100) }.joined(separator: ", ")),
                String(format: "coordinator RSS    %.0f MiB (goal < 1024)", Double(rssBytes) / 1_048_576),
                "loop busy          p99 ≤ \(ms(busyP99)), max ≤ \(ms(busyMaxBucket)) in the window (\(ms(busyMax)) since start; goal p99 ≤ 50 ms)"
                    + String(format: "; %.0f iterations a second", iterationsPerSecond),
                "false deaths       \(falseDeaths) over the window",
                detection.isEmpty ? "death detection    -"
                    : "death detection    \(detection.count) silenced: min \(ms(q.min)), median \(ms(q.at(0.5))), max \(ms(q.max))"
                        + " from the last heartbeat (limit \(ms(deadLimit)))",
            ]
            if stall > 0 {
                lines.append(String(format: "stall              SIGSTOP %.0f s: %d declared dead, %d re-registrations", stall, stallDeaths, stallRehellos)
                             + (stallRecovery.map { String(format: ", every worker heard again %.1f s after SIGCONT", $0) } ?? ", not recovered"))
            }
            lines.append("re-hellos          \(agentRehellos) sent by simulated workers the coordinator no longer knew (whole run)")
            lines.append("simulator lateness p99 \(ms(latenessP99)), max \(ms(latenessMax)) (its own, not the coordinator's)")
            return lines.joined(separator: "\n")
        }
    }

    public func run(log: @escaping @Sendable (String) -> Void) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The coordinator raises its soft limit to the hard one; the hard limit decides how many workers it holds.
        let hard = DescriptorLimit.current.hard
        let capacity = DescriptorLimit.workerCapacity(soft: hard)
        let count = min(workers, capacity)
        let note = count < workers
            ? "the coordinator's descriptor limit is \(hard) (ulimit -Hn); \(DescriptorLimit.reserve) are kept for the store and listeners, so it holds \(capacity) workers"
            : nil
        if let note { log("bench swarm: \(note)") }

        let coordinator = try CoordinatorProcess(executable: executable, directory: directory)
        defer { coordinator.stop() }
        let agents = (count + perAgent - 1) / perAgent
        let ramp = 1_000  // connections per second, all agents together
        let rampSeconds = Double(count) / Double(ramp)
        let killAt = rampSeconds + 5 + window
        let total = killAt + 8 + (stall > 0 ? stall + 15 : 0)
        log("bench swarm: \(count) workers in \(agents) agent processes; ramp \(Int(rampSeconds)) s, window \(Int(window)) s")
        var processes: [ChildProcess] = []
        for a in 0..<agents {
            let n = min(perAgent, count - a * perAgent)
            // Each agent connects from an address of its own (127.0.0.10, .11, …): one source address has only ~28 000
            // ephemeral ports towards one coordinator port, fewer while the last run's connections wait in TIME_WAIT.
            let endpoint = coordinator.endpoint.replacingOccurrences(of: "tcp://", with: "tcp://127.0.0.\(10 + a):0;")
            let arguments = ["bench", "swarm-agent", "--endpoint", endpoint, "--prefix", "sw\(a)", "--workers", "\(n)",
                           "--ramp", "\(max(1, ramp * n / count))", "--seconds", "\(total)", "--kill-at", "\(killAt)",
                           "--kills", "\(kills * n / max(1, count))"]
            processes.append(try ChildProcess(executable, arguments, stdout: .pipe, stderr: .inherit))
        }
        defer { for p in processes { p.send(SIGKILL) } }
        let start = Self.clock

        // Registration, then the steady window.
        let rampDeadline = Self.clock + rampSeconds + 60
        while try coordinator.metric("reelfarm_workers") ?? 0 < Double(count), Self.clock < rampDeadline { Thread.sleep(forTimeInterval: 0.5) }
        let registered = Self.clock
        let connected = try coordinator.metric("reelfarm_workers") ?? 0
        guard connected >= Double(count) else {
            throw BenchError(description: "only \(Int(connected)) of \(count) workers registered; the coordinator's log ends:\n"
                             + coordinator.logTail)
        }
        log("bench swarm: \(count) registered; measuring \(Int(window)) s")
        Thread.sleep(forTimeInterval: 3)
        let deathsBefore = coordinator.deaths.count
        let busy0 = try coordinator.busyHistogram(), cpu0 = try coordinator.cpuSeconds(), t0 = Self.clock
        let threads0 = coordinator.threadCPUSeconds()
        var rss = 0
        while Self.clock - t0 < window {
            Thread.sleep(forTimeInterval: 1)
            rss = max(rss, coordinator.rssBytes())
        }
        let elapsed = Self.clock - t0
        let cpu = (try coordinator.cpuSeconds() - cpu0) / elapsed
        let threads = coordinator.threadCPUSeconds().map { ($0.key, ($0.value - (threads0[$0.key] ?? 0)) / elapsed) }
            .filter { $0.1 >= 0.005 }.sorted { $0.1 > $1.1 }
        let busy = try coordinator.busyHistogram().since(busy0)
        let windowEnd = Self.clock

        // Silenced workers (agents close their sockets at `killAt`), then the stall.
        while Self.clock < start + killAt + 5 { Thread.sleep(forTimeInterval: 0.2) }
        var stallDeaths = 0, stallRehellos = 0
        var recovery: Double?
        let deathsAfterKills = coordinator.deaths.count, joinsBefore = coordinator.joins
        if stall > 0 {
            let expected = try coordinator.metric("reelfarm_workers") ?? 0
            log("bench swarm: SIGSTOP for \(stall) s with \(Int(expected)) workers connected")
            kill(coordinator.pid, SIGSTOP)
            Thread.sleep(forTimeInterval: stall)
            kill(coordinator.pid, SIGCONT)
            let resumed = Self.clock
            // Recovered: the loop answers a client again (it has read what queued during the stall) and still has
            // every worker.
            let client = try FarmClient(endpoint: coordinator.endpoint, timeoutMillis: 15_000)
            if let r = try? client.workers(), Double(r.connected ?? 0) >= expected { recovery = Self.clock - resumed }
            Thread.sleep(forTimeInterval: 12)
            stallDeaths = coordinator.deaths.count - deathsAfterKills
            stallRehellos = coordinator.joins - joinsBefore
            if stallDeaths > 0 {
                let first = coordinator.deaths.dropFirst(deathsAfterKills).first.map { $0.at - resumed } ?? 0
                log(String(format: "bench swarm: first death %.2f s after SIGCONT; the coordinator's log ends:\n", first)
                    + coordinator.logTail)
            }
        }
        var reports: [SwarmAgent.Report] = []
        for p in processes {
            let data = p.standardOutput?.readDataToEndOfFile() ?? Data()
            p.waitUntilExit()
            guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
                  let r = try? JSONDecoder().decode(SwarmAgent.Report.self, from: Data(line.utf8)) else {
                throw BenchError(description: "a swarm agent exited \(p.terminationStatus) without its report")
            }
            reports.append(r)
        }
        // Deaths in the window of workers nobody silenced: a slow ramp can bring the silencing (timed from the agents'
        // start) into the window, and those deaths are the ones expected.
        let silenced = Set(reports.flatMap(\.killed.keys))
        let falseDeaths = coordinator.deaths.dropFirst(deathsBefore).filter { $0.at <= windowEnd && !silenced.contains($0.name) }.count
        var detection: [Double] = []
        for r in reports {
            for (name, at) in r.killed {
                if let dead = coordinator.deathTime(ofWorkerNamed: name) { detection.append(dead - at) }
            }
        }
        return Result(requested: workers, workers: count, limitNote: note, rampSeconds: registered - start, window: window,
                      cpuFraction: cpu, threads: threads, rssBytes: rss, busyP99: busy.upperBound(quantile: 0.99),
                      busyMaxBucket: busy.upperBound(quantile: 1), busyMax: busy.max,
                      iterationsPerSecond: Double(busy.count) / elapsed, falseDeaths: falseDeaths,
                      detection: detection, deadLimit: Double(CoordinatorConfiguration.defaultDeadAfterMillis) / 1000,
                      stall: stall, stallDeaths: stallDeaths, stallRehellos: stallRehellos, stallRecovery: recovery,
                      agentRehellos: reports.reduce(0) { $0 + $1.rehellos }, latenessP99: reports.map(\.latenessP99).max() ?? 0, latenessMax: reports.map(\.latenessMax).max() ?? 0)
    }

    static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
