import Foundation
import Testing
import Yams
@testable import reelfarm
import FarmTesting

/// The recipes in `Cluster/` start reelfarm with command lines of their own; each must parse with today's CLI, so a
/// renamed or removed option breaks this test instead of a studio's deployment.
@Suite(.timeLimit(.minutes(3)), .ownThreads) struct ClusterRecipeTests {
    static let cluster = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Cluster")

    func text(_ path: String) throws -> String {
        try String(contentsOf: Self.cluster.appendingPathComponent(path), encoding: .utf8)
    }

    /// Splits a shell-like line into words (single and double quotes, no expansion).
    static func words(_ line: String) -> [String] {
        var out: [String] = [], word = "", quote: Character?, inWord = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { word.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { out.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(c)
                inWord = true
            }
        }
        if inWord { out.append(word) }
        return out
    }

    /// Parses `arguments` (after the program name) as the CLI would, and names the subcommand it chose.
    func parse(_ arguments: [String]) throws -> String {
        let command = try ReelFarm.parseAsRoot(arguments)
        return type(of: command).configuration.commandName ?? "\(type(of: command))".lowercased()
    }

    @Test func systemdUnitsStartValidCommands() throws {
        for (unit, expected) in [("systemd/reelfarm-coordinator.service", "coordinator"), ("systemd/reelfarm-worker@.service", "worker")] {
            let exec = try #require(try text(unit).split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
            let words = Self.words(String(exec.dropFirst("ExecStart=".count)))
            #expect(words.first?.hasSuffix("/reelfarm") == true, "\(unit)")
            #expect(try parse(Array(words.dropFirst())) == expected, "\(unit)")
        }
    }

    /// What the script's variables hold when the environment sets none: its `NAME=${NAME:-DEFAULT}` and `NAME="VALUE"`
    /// lines, in order, each expanded with the ones before it.
    static func defaults(_ script: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in script.split(separator: "\n") where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<eq])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            var value = String(line[line.index(after: eq)...])
            if value.hasPrefix("${\(name):-"), value.hasSuffix("}") {
                value = String(value.dropFirst(name.count + 4).dropLast())
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            values[name] = expand(value, values)
        }
        return values
    }

    /// Replaces `$NAME` and `${NAME}` with `values` (longest names first, so `$REELFARM_PYTHON` is not `$REELFARM`).
    static func expand(_ word: String, _ values: [String: String]) -> String {
        var out = word
        for (name, value) in values.sorted(by: { $0.key.count > $1.key.count }) {
            out = out.replacingOccurrences(of: "${\(name)}", with: value).replacingOccurrences(of: "$\(name)", with: value)
        }
        return out
    }

    @Test func slurmScriptStartsValidWorkers() throws {
        // Continued lines (`\` at the end) joined, as the shell reads them.
        let script = try text("slurm/reelfarm-workers.sbatch").replacingOccurrences(of: "\\\n", with: " ")
        let srun = try #require(script.split(separator: "\n").first { $0.hasPrefix("srun ") })
        var words = Self.words(String(srun))
        words.removeAll { $0 == "&" }
        let program = try #require(words.firstIndex(of: "$REELFARM"))
        // The production defaults (a studio's sbatch with no REELFARM_* settings): LTX-2 on the task's GPU.
        let defaults = Self.defaults(script)
        let arguments = words[(program + 1)...].map { Self.expand($0, defaults) }
        #expect(try parse(arguments) == "worker")
        let value = { (option: String) in arguments.firstIndex(of: option).map { arguments[$0 + 1] } }
        #expect(value("--engine") == "ltx2" && value("--device") == "gpu", "\(arguments)")
        // It starts the engine process on the task's GPU, ignoring the SIGTERM Slurm sends every process of the step
        // (the worker drains and then closes it).
        let command = try #require(value("--engine-command"))
        #expect(command.hasPrefix("ltx2=env --ignore-signal=TERM") && command.contains("-m reelfarm_engines ltx2")
                && command.contains("--device cuda:{slot}"), "\(command)")
        // The drain fits inside the warning --signal gives before the time limit.
        let drain = try #require(value("--drain-seconds").flatMap { Int($0) })
        let signal = try #require(script.split(separator: "\n").first { $0.hasPrefix("#SBATCH --signal=B:TERM@") })
        let warning = try #require(Int(signal.dropFirst("#SBATCH --signal=B:TERM@".count)))
        #expect(drain < warning, "--drain-seconds \(drain) must end before the time limit (\(warning) s after the signal)")
        // The SIGTERM reaches the workers through Slurm: srun would answer a SIGTERM by killing its tasks.
        #expect(script.contains("scancel --signal=TERM \"$SLURM_JOB_ID\"") && !script.contains("kill -TERM \"$workers\""))
    }

    @Test func kubernetesContainersStartValidCommands() throws {
        var seen: [String] = []
        for document in try Yams.load_all(yaml: try text("kubernetes/reelfarm.yaml")) {
            guard let doc = document as? [String: Any], let kind = doc["kind"] as? String, kind != "Service",
                  let spec = doc["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
                  let pod = template["spec"] as? [String: Any], let containers = pod["containers"] as? [[String: Any]] else { continue }
            for c in containers {
                let args = try #require(c["args"] as? [String], "\(kind) container without args")
                let command = try parse(args)
                seen.append(command)
                guard command == "worker" else { continue }
                // The GPU worker asks for a GPU and runs its engine in an engine process from the GPU image.
                let resources = c["resources"] as? [String: Any], limits = resources?["limits"] as? [String: Any]
                #expect(limits?["nvidia.com/gpu"] as? Int == 1, "\(c)")
                #expect(c["image"] as? String == "reelfarm-gpu:latest")
                let engine = try #require(args.firstIndex(of: "--engine-command").map { args[$0 + 1] })
                #expect(engine.hasPrefix("ltx2=python3 -m reelfarm_engines ltx2"), "\(engine)")
            }
        }
        #expect(seen.sorted() == ["coordinator", "worker"])
    }

    @Test func theGPUImageCarriesTheEngines() throws {
        let docker = try text("kubernetes/Dockerfile.gpu")
        #expect(docker.contains("COPY Sources/ReelfarmEngines")
                && docker.contains("pip install --no-cache-dir --no-build-isolation /opt/reelfarm/engines"))
        #expect(docker.contains("--product reelfarm"))
    }

    /// The Debian image is built from fixed inputs: a Swift release and Debian point release by tag, every package at a
    /// version, file times from SOURCE_DATE_EPOCH.
    @Test func theImageBuildIsPinned() throws {
        let docker = try text("kubernetes/Dockerfile").replacingOccurrences(of: "\\\n", with: " ")
        #expect(docker.contains("ARG SWIFT_IMAGE=swift:6.") && docker.contains("ARG DEBIAN_IMAGE=debian:12."))
        #expect(docker.components(separatedBy: "ARG SOURCE_DATE_EPOCH").count == 3, "both stages take SOURCE_DATE_EPOCH")
        let installs = docker.split(separator: "\n").filter { $0.contains("apt-get install") }
        #expect(installs.count == 2)
        for line in installs {
            let packages = Self.words(String(line.split(separator: "--no-install-recommends")[1]))
                .prefix { $0 != "&&" }
            #expect(!packages.isEmpty)
            for package in packages { #expect(package.contains("="), "\(package) has no version") }
        }
    }

    @Test func aRenamedOptionIsCaught() {
        #expect(throws: (any Error).self) { try parse(["worker", "--gpus", "1"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "localhost:9464"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "127.0.0.1:99999"]) }
    }
}
