import ArgumentParser
import FarmCore
import FarmMedia
import FarmRender
import FarmWorker
import Foundation
import Logging
import ServiceLifecycle

extension ReelFarm {
    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a worker: register with the coordinator, run segments, return results.",
            discussion: "SIGTERM drains: running tasks finish (new ones are handed back) for up to --drain-seconds, the rest are "
                + "stopped and handed back, then the worker exits.")

        @OptionGroup var farm: CoordinatorOption
        @OptionGroup var log: LogOptions
        @Option(parsing: .upToNextOption, help: "Engines this worker runs (default: all it has).") var engine: [String] = []
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
            guard ["cpu", "gpu"].contains(device) else { throw ValidationError("--device must be cpu or gpu") }
            if let m = memoryGib, !(1...65_536).contains(m) { throw ValidationError("--memory-gib must be in 1...65536") }
            for e in engine where !EngineRegistry.names.contains(e) {
                throw ValidationError("unknown engine \(e) (have: \(EngineRegistry.names.joined(separator: ", ")))")
            }
        }

        func run() async throws {
            log.apply()
            let config = WorkerConfiguration(
                coordinator: farm.endpoint, name: name, slots: slots, engines: engine.isEmpty ? EngineRegistry.names : engine,
                device: device, tags: tags.split(separator: ",").map(String.init),
                memoryBytes: memoryGib.map { Int64($0) << 30 } ?? Int64(ProcessInfo.processInfo.physicalMemory), maxFramePixels: maxFramePixels,
                engineFactory: { [stepDelayMs] model in
                    let engine = try EngineRegistry.engine(for: model)
                    return stepDelayMs > 0 ? DelayedEngine(engine, stepDelay: Double(stepDelayMs) / 1000) : engine
                }, encoder: H264ChunkEncoder())
            var secured = config
            secured.security = try farm.security
            secured.drainMillis = drainSeconds * 1_000
            let worker = FarmWorker.Worker(configuration: secured)
            printError("reelfarm worker \(name): \(slots) slots, coordinator \(farm.endpoint)")
            // SIGTERM and SIGINT drain: running tasks finish (new ones are handed back), then bye.
            let group = ServiceGroup(services: [WorkerService(worker: worker)], gracefulShutdownSignals: [.sigterm, .sigint],
                                     logger: Logger(label: "reelfarm.worker"))
            do {
                try await group.run()
            } catch {
                printError("reelfarm worker \(name): \(error)")
                throw ExitCode.failure
            }
        }
    }
}
