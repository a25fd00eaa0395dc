import ArgumentParser
import FarmCoordinator
import Foundation

extension ReelFarm.Bench {
    struct HTTP: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "http",
            abstract: "p50/p99 latency of each dashboard page and API call with a large store while dispatch traffic "
                + "runs, and the dispatch rate with and without the requests.")

        @Option(help: "Queued jobs in the store.") var jobs: Int = 1_000
        @Option(help: "Segments per queued job.") var segments: Int = 10
        @Option(help: "In-process no-op workers.") var workers: Int = 4
        @Option(help: "Slots per worker.") var slots: Int = 64
        @Option(help: "Client threads requesting the routes in turn.") var clients: Int = 2
        @Option(help: "Seconds of each phase (dispatch alone, then with requests).") var seconds: Double = 5

        func validate() throws {
            guard (1...100_000).contains(jobs), (1...1_000).contains(segments), workers >= 1, slots >= 1,
                  (1...64).contains(clients), seconds > 0, seconds <= 600 else {
                throw ValidationError("--jobs 1...100000, --segments 1...1000, --clients 1...64, --seconds (0, 600], "
                                      + "--workers and --slots ≥ 1")
            }
        }

        func run() throws {
            let bench = HTTPBenchmark(jobs: jobs, segmentsPerJob: segments, workers: workers, slots: slots,
                                      clients: clients, seconds: seconds)
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }
}
