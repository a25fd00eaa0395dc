import ArgumentParser
import FarmCoordinator
import Foundation

extension ReelFarm.Bench {
    struct Dispatch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Durable dispatches per second and ready→started latency, next to raw ZeroMQ round trips.")

        @Option(help: "Shots (independent chains).") var shots: Int = 1_000
        @Option(help: "Segments per shot (each waits for the one before).") var segments: Int = 20
        @Option(help: "In-process no-op workers.") var workers: Int = 4
        @Option(help: "Slots per worker.") var slots: Int = 256
        @Flag(help: "Encrypt every socket with CURVE (coordinator key pair, one per worker).") var curve = false

        func validate() throws {
            guard (1...10_000).contains(shots), segments >= 1, workers >= 1, slots >= 1 else {
                throw ValidationError("--shots 1...10000, --segments, --workers and --slots ≥ 1")
            }
        }

        func run() throws {
            var bench = DispatchBenchmark(shots: shots, segmentsPerShot: segments, workers: workers, slots: slots)
            bench.curve = curve
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }
}
