import ArgumentParser
import FarmInference
import Foundation

extension ReelFarm {
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage MMDiT weights files (safetensors).",
            subcommands: [Init.self])
    }
}

extension ReelFarm.Model {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write seeded weights for an MMDiT configuration (\(MMDiTConfig.names.joined(separator: ", "))).")

        @Option(help: "Configuration: \(MMDiTConfig.names.joined(separator: ", ")).") var config: String = "small"
        @Option(help: "Seed the weights are drawn from.") var seed: UInt64 = 1
        @Option(name: .shortAndLong, help: "Output safetensors file.") var output: String

        func validate() throws {
            guard MMDiTConfig.named(config) != nil else {
                throw ValidationError(
                    "unknown configuration \(config) (have: \(MMDiTConfig.names.joined(separator: ", ")))")
            }
        }

        func run() throws {
            let weights = ModelWeights.seeded(MMDiTConfig.named(config)!, seed: seed)
            do {
                try weights.write(to: URL(fileURLWithPath: output))
            } catch {
                printError("reelfarm model init: \(error)")
                throw ExitCode.failure
            }
            printError(
                String(
                    format: "wrote %@: %@ configuration, seed %llu, %.2f M parameters",
                    output, config, seed, Double(weights.layout.count) / 1e6))
        }
    }
}
