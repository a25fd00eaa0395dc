import ArgumentParser
import FarmWire
import Foundation

/// `--coordinator`, falling back to `REELFARM_COORDINATOR`, then `tcp://127.0.0.1:7700`.
struct CoordinatorOption: ParsableArguments {
    @Option(help: "Coordinator endpoint (default: $REELFARM_COORDINATOR or tcp://127.0.0.1:7700).")
    var coordinator: String?

    /// As typed (flag, then environment, then the default).
    private var written: String {
        coordinator ?? ProcessInfo.processInfo.environment["REELFARM_COORDINATOR"] ?? "tcp://127.0.0.1:7700"
    }

    /// The endpoint to connect to, `HOST:PORT` made `tcp://HOST:PORT` (checked in `validate()`).
    var endpoint: String { (try? Endpoint.normalize(written)) ?? written }

    func validate() throws {
        do {
            _ = try Endpoint.normalize(written, what: coordinator == nil ? "REELFARM_COORDINATOR" : "--coordinator")
        } catch {
            throw ValidationError(error.description)
        }
    }

    @Option(help: "Seconds to wait for the coordinator's answer.") var timeout: Double = 5

    @Option(help: "The coordinator's CURVE public key, or a file holding it, when it uses CURVE (default: $REELFARM_COORDINATOR_KEY).")
    var coordinatorKey: String?

    @Option(help: "This peer's CURVE secret key file, for a coordinator that admits listed keys only (default: $REELFARM_KEY; else a fresh key).")
    var key: String?

    /// CURVE towards the coordinator when its key is given; plain TCP otherwise.
    var security: CurveClientSecurity? {
        get throws {
            let env = ProcessInfo.processInfo.environment
            guard let server = coordinatorKey ?? env["REELFARM_COORDINATOR_KEY"] else { return nil }
            do {
                let own = try (key ?? env["REELFARM_KEY"]).map { try CurveKeyPair(secretKey: try CurveKeyPair.readKey(URL(fileURLWithPath: $0))) }
                return CurveClientSecurity(serverKey: try CurveKeyPair.keyOrFile(server), keys: own)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    func client() throws -> FarmClient {
        try FarmClient(endpoint: endpoint, timeoutMillis: Int(timeout * 1000), security: try security)
    }
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
