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
        let script = try text("slurm/reelfarm-workers.sbatch")
        let srun = try #require(script.split(separator: "\n").first { $0.hasPrefix("srun ") })
        var words = Self.words(String(srun))
        words.removeAll { $0 == "&" }
        let program = try #require(words.firstIndex(of: "$REELFARM"))
        #expect(try parse(Array(words[(program + 1)...])) == "worker")
    }

    @Test func kubernetesContainersStartValidCommands() throws {
        var seen: [String] = []
        for document in try Yams.load_all(yaml: try text("kubernetes/reelfarm.yaml")) {
            guard let doc = document as? [String: Any], let kind = doc["kind"] as? String, kind != "Service",
                  let spec = doc["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
                  let pod = template["spec"] as? [String: Any], let containers = pod["containers"] as? [[String: Any]] else { continue }
            for c in containers {
                let args = try #require(c["args"] as? [String], "\(kind) container without args")
                seen.append(try parse(args))
            }
        }
        #expect(seen.sorted() == ["coordinator", "worker"])
    }

    @Test func aRenamedOptionIsCaught() {
        #expect(throws: (any Error).self) { try parse(["worker", "--gpus", "1"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "localhost:9464"]) }
        #expect(throws: (any Error).self) { try parse(["coordinator", "--metrics", "127.0.0.1:99999"]) }
    }
}
