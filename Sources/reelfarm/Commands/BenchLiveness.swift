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
