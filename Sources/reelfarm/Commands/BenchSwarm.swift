import ArgumentParser
import FarmCoordinator
import Foundation

extension ReelFarm.Bench {
    struct Swarm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A coordinator process against thousands of simulated workers: its CPU, RSS, loop stalls, false deaths, "
                + "death detection and recovery from a SIGSTOP.")

        @Option(help: "Simulated workers (capped at what the descriptor limit allows, with the reason printed).")
        var workers: Int = 20_000
        @Option(help: "Seconds of steady heartbeats measured after the ramp.") var window: Int = 60
        @Option(help: "Workers silenced after the window, to time their detection.") var kills: Int = 20
        @Option(help: "Seconds the coordinator is stopped (SIGSTOP) after that; 0 skips it.") var stall: Int = 5

        func validate() throws {
            guard (1...1_000_000).contains(workers), (5...3_600).contains(window), (0...1_000).contains(kills), kills < workers,
                  (0...60).contains(stall) else {
                throw ValidationError("--workers 1...1000000, --window 5...3600, --kills 0...1000 (fewer than workers), --stall 0...60")
            }
        }

        func run() throws {
            let bench = SwarmBenchmark(workers: workers, window: Double(window), kills: kills, stall: Double(stall),
                                       executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }

    /// One process of simulated workers for `bench swarm` (not for people to run).
    struct SwarmAgentCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "swarm-agent", abstract: "Simulated workers for bench swarm.",
                                                        shouldDisplay: false)
        @Option var endpoint: String
        @Option var prefix: String
        @Option var workers: Int
        @Option var ramp: Int = 1_000
        @Option var seconds: Double
        @Option var killAt: Double = .infinity
        @Option var kills: Int = 0
        @Option var heartbeatMs: Int = 1_000

        func run() throws {
            let agent = SwarmAgent(endpoint: endpoint, prefix: prefix, workers: workers, heartbeatMillis: heartbeatMs,
                                   rampPerSecond: ramp, seconds: seconds, killAt: killAt, kills: kills)
            let report = try agent.run()
            print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
        }
    }
}

extension ReelFarm.Bench {
    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A coordinator's time from start to its first answer with a large store, next to one answer's time.")

        @Option(help: "Jobs in the store.") var jobs: Int = 1_000
        @Option(help: "Shots per job.") var shots: Int = 10
        @Option(help: "Segments per shot.") var segments: Int = 2

        func validate() throws {
            guard (1...100_000).contains(jobs), (1...1_000).contains(shots), (1...100).contains(segments) else {
                throw ValidationError("--jobs 1...100000, --shots 1...1000, --segments 1...100")
            }
        }

        func run() throws {
            let bench = RestartBenchmark(jobs: jobs, shots: shots, segments: segments)
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }
}
