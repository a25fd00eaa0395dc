import ArgumentParser
import FarmWire
import Foundation

extension ReelFarm {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage CURVE keys for an encrypted farm.",
            discussion: """
                A coordinator started with --curve makes its own pair in DATA/curve/. Workers and clients pass its \
                public key with --coordinator-key. For a coordinator that admits listed peers only \
                (--authorized-keys FILE), give each peer a pair of its own: `reelfarm keys new NAME`, then --key \
                NAME.key on the peer and the line from NAME.pub in the coordinator's file.
                """,
            subcommands: [New.self])
    }
}

extension ReelFarm.Keys {
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new key pair: NAME.key (secret) and NAME.pub.")

        @Argument(help: "Path and name of the pair, without extension.") var name: String

        func run() throws {
            let base = URL(fileURLWithPath: name)
            for ext in ["key", "pub"] where FileManager.default.fileExists(atPath: base.appendingPathExtension(ext).path) {
                printError("reelfarm keys new: \(base.appendingPathExtension(ext).path) exists; not overwriting it")
                throw ExitCode.failure
            }
            do {
                let pair = try CurveKeyPair.generate()
                try pair.write(to: base)
                print(pair.publicKey)
                printError("wrote \(base.path).key (secret, mode 600) and \(base.path).pub")
            } catch {
                printError("reelfarm keys new: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
