import ArgumentParser
import FarmCore
import FarmEngineHost
import FarmInference
import FarmWire
import FarmPosix
import Foundation

extension ReelFarm.Bench {
    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "An engine process against the Swift core: seconds per forward pass, and the contract's cost per task.",
            discussion: """
                Starts the engine process (default command: the Python engines from .venv-engines or \
                $REELFARM_ENGINES_PYTHON; testcard and mmdit via `reelfarm engine serve`), runs segments through the \
                contract as a worker does and prints the handshake time and, per task, the time the worker waited minus \
                the time the engine computed: the cost of moving the task in and the latents, frames and sound out. For \
                mmdit-torch and mmdit it also times one forward pass of the PyTorch port and of the Swift core on the same \
                configuration, in this run, and prints their ratio.
                """)

        @Argument(help: "Engine: mmdit-torch, ltx2, skyreels-v2-df, mmdit, testcard, or any with --command.") var name: String
        @Option(help: "Configuration (default: bench for the MMDiTs, tiny for ltx2 and skyreels-v2-df).") var config: String?
        @Option(help: "The engine's command (default: see above).") var command: String?
        @Option(help: "Film size WxH.") var size: String = "320x192"
        @Option(help: "Frames per segment (1 + stride·k).") var frames: Int = 33
        @Option(help: "Denoising steps per segment.") var steps: Int = 1
        @Option(help: "Segments to run (the first warms up and is not counted).") var tasks: Int = 3
        @Option(help: "Device for the Python engines: auto, cpu, cuda.") var device: String = "auto"

        func validate() throws {
            guard (2...100).contains(tasks) else { throw ValidationError("--tasks must be in 2...100") }
            guard (1...1_000).contains(steps) else { throw ValidationError("--steps must be in 1...1000") }
            guard parsedSize != nil else { throw ValidationError("--size must be WxH, e.g. 320x192") }
        }

        var parsedSize: (Int, Int)? {
            let p = size.split(separator: "x").compactMap { Int($0) }
            return p.count == 2 && p.allSatisfy({ (16...8_192).contains($0) }) ? (p[0], p[1]) : nil
        }

        var isMMDiT: Bool { name == "mmdit-torch" || name == "mmdit" }

        static var python: String {
            if let p = ProcessInfo.processInfo.environment["REELFARM_ENGINES_PYTHON"] { return p }
            let local = FileManager.default.currentDirectoryPath + "/.venv-engines/bin/python"
            return FileManager.default.isExecutableFile(atPath: local) ? local : "python3"
        }

        func run() throws {
            guard let (width, height) = parsedSize else { throw ValidationError("--size must be WxH, e.g. 320x192") }
            let config = self.config ?? (isMMDiT ? "bench" : name == "testcard" ? nil : "tiny")
            let words: [String]
            if let command {
                words = try Self.words(command)
            } else if ["testcard", "mmdit"].contains(name) {
                words = [CommandLine.arguments[0], "engine", "serve", name] + (config.map { ["--config", $0] } ?? [])
            } else {
                words = [Self.python, "-m", "reelfarm_engines", name, "--device", device] + (config.map { ["--config", $0] } ?? [])
            }
            let format = OutputFormat(width: width, height: height, fps: Rational(24), sampleRate: 48_000, channels: 2)
            let model = ModelDescription(ModelSpec(engine: name, window: frames, overlap: 5, steps: steps, seed: 1,
                                                   schedule: .chain, config: config))
            let bench = EngineBenchmark(command: EngineCommand(name: name, words: words), model: model, format: format,
                                        frames: frames, tasks: tasks)
            let r: EngineBenchmark.Result
            do { r = try bench.run { printError($0) } } catch {
                printError("reelfarm bench engine \(name): \(error)")
                throw ExitCode.failure
            }
            print("engine     \(name) \(r.ready.version) on \(r.ready.device)")
            print(String(format: "handshake  %.2f s (start to ready: process, imports, model load)", r.handshakeSeconds))
            let moved = r.timings.dropFirst().map(\.bytesMoved).max() ?? 0
            print(String(format: "per task   %d×%d, %d frames, %d step(s): %.3f s in the engine, %.4f s contract overhead "
                         + "(%.2f %% of the task; %.1f MB moved)", width, height, frames, steps, r.engineSeconds,
                         r.overheadSeconds, 100 * r.overheadSeconds / max(r.engineSeconds, 1e-9), Double(moved) / 1e6))
            guard isMMDiT, let c = MMDiTConfig.named(config ?? "bench") else { return }
            // One forward pass each, measured here, now: the PyTorch port (its own bench) and the Swift core.
            let torch = try forwardOfTorch(config: c.name, width: width, height: height)
            let swift = InferenceBenchmark(config: c, width: width, height: height, frames: frames, runs: 3).run { printError($0) }.median
            print(String(format: "forward    %@ %d×%d×%d: mmdit-torch %.3f s, Swift core %.3f s, ratio torch/Swift %.2f",
                         c.name, width, height, frames, torch, swift, torch / swift))
            print(String(format: "overhead   %.2f %% of one forward pass of the engine", 100 * r.overheadSeconds / torch))
        }

        /// Seconds per forward pass of the PyTorch port (`python -m reelfarm_engines.mmdit_torch bench`).
        func forwardOfTorch(config: String, width: Int, height: Int) throws -> Double {
            let p = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [Self.python, "-m", "reelfarm_engines.mmdit_torch", "bench", "--config", config, "--device", device,
                           "--width", "\(width)", "--height", "\(height)", "--frames", "\(frames)"],
                                     stdout: .pipe)
            let data = p.standardOutput?.readDataToEndOfFile() ?? Data()
            p.waitUntilExit()
            struct Line: Decodable { var seconds_per_forward: Double }
            guard p.terminationStatus == 0, let line = try? JSONDecoder().decode(Line.self, from: data) else {
                throw ValidationError("mmdit-torch bench failed (exit \(p.terminationStatus))")
            }
            return line.seconds_per_forward
        }

        static func words(_ command: String) throws -> [String] {
            do { return try EngineCommand(parsing: "x=" + command).words } catch { throw ValidationError(error.description) }
        }
    }
}
