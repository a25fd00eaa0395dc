import ArgumentParser
import FarmMedia
import FarmRender
import FarmStore
import Foundation

extension ReelFarm {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure reelfarm's speed as ratios taken in one run.",
            subcommands: [Assemble.self, Dispatch.self, Engine.self, Inference.self, Liveness.self, Refusals.self, Scheduling.self,
                          Swarm.self, SwarmAgentCommand.self, Restart.self, NoopWorker.self, HTTP.self])
    }
}

extension ReelFarm.Bench {
    struct Assemble: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Assembly time as a fraction of the film's duration (chunks already encoded), and the film's "
                + "delay after its last segment when assembled as segments land.")

        @Option(help: "Film length in seconds.") var seconds: Int = 180
        @Option(help: "Picture width.") var width: Int = 1280
        @Option(help: "Picture height.") var height: Int = 720
        @Option(help: "Assembly runs to take the median of.") var runs: Int = 3
        @OptionGroup var log: LogOptions

        func validate() throws {
            guard seconds >= 1, runs >= 1 else { throw ValidationError("--seconds and --runs must be ≥ 1") }
        }

        func run() throws {
            log.apply()
            let bench = AssembleBenchmark(seconds: seconds, width: width, height: height, runs: runs)
            // Films are hashed into a store of their own, as the coordinator stores them.
            let films = try ArtifactStore(root: FileManager.default.temporaryDirectory
                .appendingPathComponent("reelfarm-bench-films-\(getpid())"))
            defer { try? FileManager.default.removeItem(at: films.root) }
            let result = try bench.run(store: { try films.adopt($0) }, log: { printError($0) })
            print(result.description)
        }
    }
}
