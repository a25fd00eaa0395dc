import ArgumentParser
import FarmInference

extension ReelFarm.Bench {
    struct Inference: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One MMDiT forward pass against this machine's sgemm speed (FLOPs counted analytically).")

        @Option(help: "Configuration: \(MMDiTConfig.names.joined(separator: ", ")).") var config: String = "bench"
        @Option(help: "Picture width (multiple of 16).") var width: Int = 320
        @Option(help: "Picture height (multiple of 16).") var height: Int = 192
        @Option(help: "Frames in the window (1 + 4k).") var frames: Int = 33
        @Option(help: "Timed forward passes to take the median of.") var runs: Int = 3

        func validate() throws {
            guard MMDiTConfig.named(config) != nil else {
                throw ValidationError(
                    "unknown configuration \(config) (have: \(MMDiTConfig.names.joined(separator: ", ")))")
            }
            guard width >= 16, height >= 16, width % 16 == 0, height % 16 == 0 else {
                throw ValidationError("--width and --height must be multiples of 16")
            }
            guard frames >= 1, (frames - 1) % 4 == 0 else { throw ValidationError("--frames must be 1 + 4k") }
            guard runs >= 1 else { throw ValidationError("--runs must be ≥ 1") }
        }

        func run() throws {
            let bench = InferenceBenchmark(
                config: MMDiTConfig.named(config)!, width: width, height: height, frames: frames,
                runs: runs)
            print(bench.run { printError($0) }.description)
        }
    }
}
