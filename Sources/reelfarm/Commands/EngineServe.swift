import ArgumentParser
import FarmCore
import FarmEngineHost
import FarmRender
import FarmWire
import Foundation

extension ReelFarm {
    struct Engines: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "engine",
            abstract: "Engine processes (the contract in Sources/ReelfarmEngines/ENGINES.md).",
            subcommands: [Serve.self])
    }
}

extension ReelFarm.Engines {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a Swift engine over the engine-process contract on stdin/stdout (a worker starts it).",
            discussion: "Example: reelfarm worker --engine-command mmdit='reelfarm engine serve mmdit --config tiny'")

        @Argument(help: "Engine: \(EngineRegistry.names.joined(separator: ", ")).") var engine: String
        @Option(help: "MMDiT configuration whose latent grid this process declares (tasks must use it).") var config: String?
        @Option(help: "MMDiT weights file for tasks that name none (default: seeded weights from the task's seed).")
        var weights: String?
        @Option(name: .customLong("as"), help: "Name to answer to (default: the engine's own).") var alias: String?
        @Option(help: ArgumentHelp("Sleep after every denoising step (fault tests).", visibility: .private))
        var stepDelayMs: Int = 0

        func validate() throws {
            guard EngineRegistry.names.contains(engine) else {
                throw ValidationError("unknown engine \(engine) (this build has: \(EngineRegistry.names.joined(separator: ", ")))")
            }
            if let alias, !EngineCommand.isName(alias) { throw ValidationError("--as \(alias): not an engine name") }
        }

        func run() throws {
            let base = ModelSpec(engine: engine, window: 1, overlap: 0, steps: 1, seed: 0, schedule: .chain, config: config)
            let geometry: EngineGeometry
            do { geometry = try EngineRegistry.geometry(for: base, source: "--config") } catch {
                throw ValidationError(error.description)
            }
            let served = config ?? "small"
            let (engine, name, delay, weights) = (self.engine, alias ?? self.engine, Double(stepDelayMs) / 1000, self.weights)
            let out = EngineServer.takeStandardOutput()
            let server = EngineServer(
                name: name, geometry: geometry, version: "reelfarm-\(reelfarmVersion)/\(engine)" + (engine == "mmdit" ? "-\(served)" : ""),
                deviceMemoryBytes: Int64(ProcessInfo.processInfo.physicalMemory), input: 0, output: out,
                factory: { model in
                    if engine == "mmdit", (model.config ?? "small") != served {
                        throw EngineContractError("this process serves mmdit configuration \(served), the task asks for \(model.config ?? "small")")
                    }
                    var spec = model.spec
                    spec.engine = engine
                    if spec.weights == nil { spec.weights = weights }
                    let built = try EngineRegistry.engine(for: spec, source: "task model")
                    return delay > 0 ? DelayedEngine(built, stepDelay: delay) : built
                },
                log: { FileHandle.standardError.write(Data("reelfarm engine \(name): \($0)\n".utf8)) })
            let status = server.serve()
            if status != 0 { throw ExitCode(status) }
        }
    }
}
