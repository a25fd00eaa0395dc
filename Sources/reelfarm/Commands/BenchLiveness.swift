import ArgumentParser
import FarmCoordinator
import Foundation

extension ReelFarm.Bench {
    struct Liveness: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time from a worker's SIGKILL to its lease back in the queue, next to the liveness limit.")

        @Option(help: "Worker processes to start and kill.") var kills: Int = 20

        func validate() throws {
            guard (1...200).contains(kills) else { throw ValidationError("--kills must be in 1...200") }
        }

        func run() throws {
            let bench = LivenessBenchmark(kills: kills,
                                          workerExecutable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
            print(try bench.run { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }.description)
        }
    }
}

extension ReelFarm.Bench {
    struct Refusals: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Clients refused by a CURVE coordinator, all at once: how long each takes to return, vs its timeout.")

        @Option(help: "Clients at once (threads of this process).") var clients: Int = 100
        @Option(help: "Each client's timeout in seconds.") var timeout: Int = 1

        func validate() throws {
            guard (1...2_000).contains(clients), (1...60).contains(timeout) else {
                throw ValidationError("--clients must be in 1...2000 and --timeout in 1...60")
            }
        }

        func run() throws {
            print(try RefusalBenchmark(clients: clients, timeoutMillis: timeout * 1_000).run().description)
        }
    }
}
