import FarmCore
import FarmWire
import FarmPosix
import Foundation

/// `reelfarm bench liveness`: how long after a worker's SIGKILL its lease is back in the queue.
///
/// A coordinator runs in this process (so the moment it declares a worker dead is read off its own log, not polled);
/// `kills` worker processes of this executable each take a slow test-card task, then are killed one after another
/// at uneven moments relative to their heartbeats. Each delay is the time from `kill()` to the coordinator's line
/// that ends the worker's leases, and is printed next to the liveness limit as a ratio.
public struct LivenessBenchmark {
    public var kills: Int
    public var workerExecutable: URL

    public init(kills: Int, workerExecutable: URL) {
        self.kills = kills
        self.workerExecutable = workerExecutable
    }

    public struct Result: CustomStringConvertible, Sendable {
        public var delays: [Double]
        public var limit: Double
        public var description: String {
            let q = Quantiles(delays), f = Quantiles.seconds
            return [
                "kills              \(delays.count) worker processes, each SIGKILLed while holding a lease",
                "dead-after limit   \(f(limit)) of silence",
                "detection          min \(f(q.min)), median \(f(q.at(0.5))), p90 \(f(q.at(0.9))), max \(f(q.max))"
                    + " (from kill to lease back in the queue)",
                "ratio              max / limit = \(String(format: "%.3f", q.max / limit))",
            ].joined(separator: "\n")
        }
    }

    struct BenchError: Error, CustomStringConvertible { var description: String }

    /// When each worker (by name) was declared dead, from the coordinator's log.
    final class DeathLog: @unchecked Sendable {
        private let lock = NSLock()
        private var at: [String: Double] = [:]
        func note(_ line: String) {
            // "worker live-7-3fa9c1 is dead (silent 3.0 s)"
            guard line.hasPrefix("worker live-"), line.contains(" is dead") else { return }
            let id = line.dropFirst("worker ".count).prefix { $0 != " " }
            let name = id.split(separator: "-").prefix(2).joined(separator: "-")
            let now = Self.clock
            lock.withLock { at[name] = at[name] ?? now }
        }
        func time(_ name: String) -> Double? { lock.withLock { at[name] } }
        static var clock: Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    }

    public func run(log: (String) -> Void) throws -> Result {
        let deaths = DeathLog()
        let bench = try BenchCoordinator("liveness") { $0.log = { deaths.note($0) } }
        defer { bench.close() }
        let endpoint = bench.endpoint
        let client = try FarmClient(endpoint: endpoint, timeoutMillis: 10_000)
        // One slow task per worker, and a few to spare: 1 000 denoising steps of a second each never finish here.
        let shots = (0..<(kills + 4)).map { "  - {id: s\($0), frames: 20, prompt: p}" }.joined(separator: "\n")
        let text = """
            title: liveness benchmark
            output: {width: 192, height: 64, fps: "24", sample_rate: 8000, channels: 1}
            model: {engine: testcard, window: 33, overlap: 9, steps: 1000, seed: 1, schedule: chain}
            shots:
            \(shots)
            """
        let job = try client.submit(storyboard: text, source: "liveness", priority: 0).job
        var workers: [(name: String, process: ChildProcess)] = []
        defer { for w in workers { w.process.send(SIGKILL) } }
        for i in 0..<kills {
            let p = try ChildProcess(workerExecutable, ["worker", "--coordinator", endpoint, "--name", "live-\(i)",
                                                        "--engine", "testcard", "--step-delay-ms", "1000"],
                                     stdin: .null, stdout: .null, stderr: .null)
            workers.append(("live-\(i)", p))
        }
        log("bench liveness: \(kills) workers started; waiting until each holds a lease")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let busy = Set(try client.status(job: job).tasks?.filter { $0.state == "running" }.compactMap {
                $0.worker?.split(separator: "-").prefix(2).joined(separator: "-")
            } ?? [])
            if workers.allSatisfy({ busy.contains($0.name) }) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        // Kills 0.37 s apart fall at every phase of the workers' one-second heartbeats.
        var killedAt: [String: Double] = [:]
        for w in workers {
            w.process.send(SIGKILL)
            killedAt[w.name] = DeathLog.clock
            Thread.sleep(forTimeInterval: 0.37)
        }
        for w in workers { w.process.waitUntilExit() }
        let limit = Double(CoordinatorConfiguration.defaultDeadAfterMillis) / 1000
        let wait = Date().addingTimeInterval(limit * 3)
        while Date() < wait, !workers.allSatisfy({ deaths.time($0.name) != nil }) { Thread.sleep(forTimeInterval: 0.05) }
        var delays: [Double] = []
        for w in workers {
            guard let dead = deaths.time(w.name), let killed = killedAt[w.name] else {
                throw BenchError(description: "worker \(w.name) was never declared dead")
            }
            delays.append(dead - killed)
        }
        return Result(delays: delays, limit: limit)
    }
}
