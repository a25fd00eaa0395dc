import ArgumentParser
import FarmCoordinator
import FarmWire
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
        @Flag(help: "Run the no-op workers as separate processes instead of threads.") var workerProcesses = false

        func validate() throws {
            guard (1...10_000).contains(shots), segments >= 1, workers >= 1, slots >= 1 else {
                throw ValidationError("--shots 1...10000, --segments, --workers and --slots ≥ 1")
            }
        }

        func run() throws {
            var bench = DispatchBenchmark(shots: shots, segmentsPerShot: segments, workers: workers, slots: slots)
            bench.curve = curve
            if workerProcesses { bench.workerExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }
}

extension ReelFarm.Bench {
    /// The load generator of `bench dispatch --worker-processes`: a worker that answers every task at once.
    struct NoopWorker: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "noop-worker", abstract: "A no-op worker for bench dispatch.", shouldDisplay: false)

        @Option var coordinator: String
        @Option var name: String
        @Option var slots: Int
        @Option(help: "Where to write each task's key and arrival time when stopped (SIGTERM).") var times: String
        @Option var coordinatorKey: String?

        func run() throws {
            let stop = DispatchBenchmark.Flag(), recorder = DispatchBenchmark.Recorder()
            signal(SIGTERM, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            // An orphan (the benchmark died) stops by itself rather than waiting forever.
            let parent = getppid()
            Thread {
                while !stop.isSet {
                    if getppid() != parent { stop.set() }
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }.start()
            DispatchBenchmark.noopWorker(endpoint: coordinator, name: name, slots: slots,
                                         security: coordinatorKey.map { CurveClientSecurity(serverKey: $0) },
                                         recorder: recorder, stop: stop)
            let lines = recorder.all().map { "\($0.key)\t\($0.at)" }.joined(separator: "\n")
            try Data(lines.utf8).write(to: URL(fileURLWithPath: times))
        }
    }
}
