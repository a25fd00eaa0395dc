import Foundation
import Testing
import Yams
@testable import reelfarm

/// The recipes in `Cluster/` start reelfarm with command lines of their own; each must parse with today's CLI, so a
/// renamed or removed option breaks this test instead of a studio's deployment.
@Suite(.timeLimit(.minutes(3))) struct ClusterRecipeTests {
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

    @Test func slurmScriptStartsValidWorkers() throws {
        // Continued lines (`\` at the end) joined, as the shell reads them.
        let script = try text("slurm/reelfarm-workers.sbatch").replacingOccurrences(of: "\\\n", with: " ")
        let srun = try #require(script.split(separator: "\n").first { $0.hasPrefix("srun ") })
        var words = Self.words(String(srun))
        words.removeAll { $0 == "&" }
        let program = try #require(words.firstIndex(of: "$REELFARM"))
        #expect(try parse(Array(words[(program + 1)...])) == "worker")
        // It starts the engine process on the task's GPU.
        let command = try #require(words.firstIndex(of: "--engine-command").map { words[$0 + 1] })
        #expect(command.hasPrefix("ltx2=") && command.contains("-m reelfarm_engines ltx2") && command.contains("--device cuda:{slot}"))
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
        #expect(docker.contains("COPY Sources/ReelfarmEngines") && docker.contains("pip install --no-cache-dir /opt/reelfarm/engines"))
        #expect(docker.contains("--product reelfarm"))
    }

    @Test func aRenamedOptionIsCaught() {
        #expect(throws: (any Error).self) { try parse(["worker", "--gpus", "1"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "localhost:9464"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "127.0.0.1:99999"]) }
    }
}
