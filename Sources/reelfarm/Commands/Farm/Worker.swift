import ArgumentParser
import FarmCore
import FarmEngineHost
import FarmMedia
import FarmRender
import FarmWire
import FarmWorker
import Foundation
import Logging
import ServiceLifecycle

extension ReelFarm {
    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a worker: register with the coordinator, run segments, return results.",
            discussion: "SIGTERM drains: running tasks finish (new ones are handed back) for up to --drain-seconds, the rest are "
                + "stopped and handed back, then the worker exits.\n\n"
                + "Engines in engine processes (Sources/ReelfarmEngines/ENGINES.md): --engine-command NAME=COMMAND, e.g.\n"
                + "  --engine-command ltx2='python3 -m reelfarm_engines ltx2 --weights /models/ltx-2 --device cuda:{slot}'")

        @OptionGroup var farm: CoordinatorOption
        @OptionGroup var log: LogOptions
        @Option(parsing: .upToNextOption, help: "Engines this worker runs (default: all it has).") var engine: [String] = []
        @Option(help: ArgumentHelp("An engine run in engine processes: NAME=COMMAND ({slot} becomes the slot index). Repeatable.",
                                   valueName: "name=command"))
        var engineCommand: [String] = []
        @Option(help: ArgumentHelp("Config file of key: value lines; engine_command.NAME: COMMAND adds an engine process.",
                                   valueName: "file"))
        var config: String?
        @Option(help: "How long an engine process may take to load its model and say ready.") var engineStartSeconds: Int = 600
        @Option(help: "How long a running engine process may stay silent before it is killed.") var engineSilenceSeconds: Int = 900
        @Option(help: "Tasks at once.") var slots: Int = 1
        @Option(help: "Name shown in `reelfarm workers`.") var name: String = ProcessInfo.processInfo.hostName
        @Option(help: "Comma-separated tags.") var tags: String = ""
        @Option(help: "Device kind it offers: cpu or gpu.") var device: String = "cpu"
        @Option(help: "Largest frame (width×height) it renders.") var maxFramePixels: Int = 4096 * 2304
        @Option(help: ArgumentHelp("Memory it offers, in GiB (default: this machine's RAM); a GPU worker gives its GPU's.",
                                   valueName: "gib"))
        var memoryGib: Int?
        @Option(help: "On SIGTERM, how long running tasks may take to finish before they are stopped and handed back.")
        var drainSeconds: Int = 10
        @Option(help: ArgumentHelp("Sleep after every denoising step (fault tests).", visibility: .private))
        var stepDelayMs: Int = 0

        func validate() throws {
            guard (1...256).contains(slots) else { throw ValidationError("--slots must be in 1...256") }
            guard (0...86_400).contains(drainSeconds) else { throw ValidationError("--drain-seconds must be in 0...86400") }
            guard (1...86_400).contains(engineStartSeconds) else { throw ValidationError("--engine-start-seconds must be in 1...86400") }
            guard (1...86_400).contains(engineSilenceSeconds) else { throw ValidationError("--engine-silence-seconds must be in 1...86400") }
            guard ["cpu", "gpu"].contains(device) else { throw ValidationError("--device must be cpu or gpu") }
            if let m = memoryGib, !(1...65_536).contains(m) { throw ValidationError("--memory-gib must be in 1...65536") }
            let commands = try engineCommands()
            let known = EngineRegistry.names + commands.map(\.name)
            for e in engine where !known.contains(e) {
                throw ValidationError("unknown engine \(e) (have: \(known.joined(separator: ", ")); others need --engine-command \(e)=COMMAND)")
            }
        }

        /// `--engine-command` values and `engine_command.NAME` lines of the config file; a name given twice is refused.
        func engineCommands() throws -> [EngineCommand] {
            var out: [EngineCommand] = []
            var texts = engineCommand
            if let config {
                for (key, value) in try ConfigFile.load(config) where key.hasPrefix("engine_command.") {
                    texts.append("\(key.dropFirst("engine_command.".count))=\(value)")
                }
            }
            for text in texts {
                let c: EngineCommand
                do { c = try EngineCommand(parsing: text) } catch { throw ValidationError(error.description) }
                guard !out.contains(where: { $0.name == c.name }) else { throw ValidationError("engine \(c.name) has two commands") }
                out.append(c)
            }
            return out
        }

        func run() async throws {
            log.apply()
            let workerName = name
            var settings = EngineHostSettings()
            settings.startSeconds = Double(engineStartSeconds)
            settings.silenceSeconds = Double(engineSilenceSeconds)
            settings.log = { FileHandle.standardError.write(Data("reelfarm worker \(workerName): \($0)\n".utf8)) }
            // Each engine process starts once here (slot 0) and says what it is; one that cannot is not offered.
            var pools: [String: (EngineProcessPool, EngineGeometry)] = [:]
            var geometries: [String: GeometryDocument] = [:]
            var versions: [String: String] = [:]
            for command in try engineCommands() {
                let pool = EngineProcessPool(command: command, slots: slots, settings: settings)
                do {
                    let (ready, geometry) = try pool.warmUp()
                    pools[command.name] = (pool, geometry)
                    geometries[command.name] = ready.geometry
                    // The coordinator takes 1–256 printable characters; an engine's odd version is cleaned, not fatal.
                    let version = String(String.UnicodeScalarView(ready.version.unicodeScalars.filter {
                        $0.value >= 0x20 && $0.value != 0x7F
                    }).prefix(200))
                    if !version.isEmpty { versions[command.name] = "\(command.name) \(version)" }
                } catch {
                    printError("reelfarm worker \(name): engine \(command.name) is not offered: \(error)")
                }
            }
            let builtIn = engine.isEmpty ? EngineRegistry.names : engine.filter { EngineRegistry.names.contains($0) }
            let external = engine.isEmpty ? Array(pools.keys).sorted() : engine.filter { pools[$0] != nil }
            let offered = (external + builtIn.filter { pools[$0] == nil })
            guard !offered.isEmpty else {
                printError("reelfarm worker \(name): no engine to offer")
                throw ExitCode.failure
            }
            let running = pools
            let config = WorkerConfiguration(
                coordinator: farm.endpoint, name: name, slots: slots, engines: offered,
                device: device, tags: tags.split(separator: ",").map(String.init),
                memoryBytes: memoryGib.map { Int64($0) << 30 } ?? Int64(ProcessInfo.processInfo.physicalMemory), maxFramePixels: maxFramePixels,
                engineFactory: { [stepDelayMs] model in
                    let engine: any FarmCore.Engine
                    if let (pool, geometry) = running[model.engine] {
                        engine = ProcessEngine(pool: pool, geometry: geometry, model: ModelDescription(model))
                    } else {
                        engine = try EngineRegistry.engine(for: model)
                    }
                    return stepDelayMs > 0 ? DelayedEngine(engine, stepDelay: Double(stepDelayMs) / 1000) : engine
                }, encoder: H264ChunkEncoder())
            var secured = config
            secured.security = try farm.security
            secured.drainMillis = drainSeconds * 1_000
            secured.geometries = geometries
            for engine in offered where versions[engine] == nil { versions[engine] = "reelfarm \(reelfarmVersion)" }
            secured.versions = versions
            let worker = FarmWorker.Worker(configuration: secured)
            printError("reelfarm worker \(name): \(slots) slots, engines \(offered.joined(separator: ", ")), coordinator \(farm.endpoint)")
            // SIGTERM and SIGINT drain: running tasks finish (new ones are handed back), then bye. A drain the
            // coordinator asked for (`drain`) ends the worker the same way: returning is success, not a failure.
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: WorkerService(worker: worker), successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "reelfarm.worker")))
            defer { for (pool, _) in running.values { pool.stop() } }
            do {
                try await group.run()
            } catch {
                printError("reelfarm worker \(name): \(error)")
                throw ExitCode.failure
            }
        }
    }
}
