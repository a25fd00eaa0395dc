import ArgumentParser
import FarmWire
import Foundation

/// `--coordinator`, falling back to `REELFARM_COORDINATOR`, then `tcp://127.0.0.1:7700`.
struct CoordinatorOption: ParsableArguments {
    @Option(help: "Coordinator endpoint (default: $REELFARM_COORDINATOR or tcp://127.0.0.1:7700).")
    var coordinator: String?

    var endpoint: String {
        coordinator ?? ProcessInfo.processInfo.environment["REELFARM_COORDINATOR"] ?? "tcp://127.0.0.1:7700"
    }

    @Option(help: "Seconds to wait for the coordinator's answer.") var timeout: Double = 5

    func client() throws -> FarmClient { try FarmClient(endpoint: endpoint, timeoutMillis: Int(timeout * 1000)) }
}

/// Runs a client call; a refusal or an unreachable coordinator is a clear message and a non-zero exit.
func clientCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as FarmClient.ClientError {
        printError("reelfarm: \(error)")
        if case .refused(let r) = error, r.kind == .invalid, !r.issues.isEmpty { throw ExitCode(specErrorExitCode) }
        throw ExitCode.failure
    }
}
