import FarmCore
import FarmWire
import Foundation

/// `reelfarm bench refusals`: many clients at once against a CURVE coordinator that must refuse them (half with no
/// key, half with a key it does not list); how long each takes to give up, next to its `--timeout`.
///
/// The clients are threads of this process, so the figure is the client's own handling of a refused handshake, not
/// the cost of starting processes.
public struct RefusalBenchmark {
    public var clients: Int
    public var timeoutMillis: Int

    public init(clients: Int, timeoutMillis: Int) {
        self.clients = clients
        self.timeoutMillis = timeoutMillis
    }

    public struct Result: CustomStringConvertible, Sendable {
        /// Seconds each client took to return, and whether it said why (a handshake refusal) or only timed out.
        public var returns: [(seconds: Double, explained: Bool)]
        public var timeout: Double
        public var description: String {
            let q = Quantiles(returns.map(\.seconds)), f = Quantiles.seconds
            return [
                "clients            \(returns.count) at once, CURVE coordinator with an allowlist: half without a key, half unlisted",
                "returned           \(returns.count) of \(returns.count) (\(returns.filter(\.explained).count) saying why, "
                    + "\(returns.filter { !$0.explained }.count) after their timeout)",
                "time to return     median \(f(q.at(0.5))), p90 \(f(q.at(0.9))), max \(f(q.max)) (timeout \(f(timeout)))",
                "ratio              max / timeout = \(String(format: "%.3f", q.max / timeout))",
            ].joined(separator: "\n")
        }
    }

    final class Returns: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(seconds: Double, explained: Bool)] = []
        func add(_ seconds: Double, _ explained: Bool) { lock.withLock { items.append((seconds, explained)) } }
        var all: [(seconds: Double, explained: Bool)] { lock.withLock { items } }
    }

    public func run() throws -> Result {
        let server = try CurveKeyPair.generate(), listed = try CurveKeyPair.generate()
        let bench = try BenchCoordinator("refusals") {
            $0.curve = server
            $0.authorizedKeys = [listed.publicKey]
        }
        defer { bench.close() }
        let endpoint = bench.endpoint
        let unlisted = try (0..<clients / 2).map { _ in try CurveKeyPair.generate() }
        let returns = Returns()
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for i in 0..<clients {
            group.enter()
            let security = i % 2 == 1 ? unlisted[i / 2 % max(1, unlisted.count)] : nil
            let thread = Thread { [timeoutMillis] in
                defer { group.leave() }
                start.wait()
                let t0 = DispatchTime.now().uptimeNanoseconds
                var explained = false
                do {
                    let client = try FarmClient(endpoint: endpoint, timeoutMillis: timeoutMillis, security: security.map {
                        CurveClientSecurity(serverKey: server.publicKey, keys: $0)
                    })
                    _ = try client.status(job: nil)
                } catch FarmClient.ClientError.handshake {
                    explained = true
                } catch {}
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                returns.add(seconds, explained)
            }
            thread.start()
        }
        for _ in 0..<clients { start.signal() }
        guard group.wait(timeout: .now() + .seconds(60 + timeoutMillis / 1000)) == .success else {
            throw DispatchBenchmark.BenchError(description: "\(clients - returns.all.count) clients never returned")
        }
        return Result(returns: returns.all, timeout: Double(timeoutMillis) / 1000)
    }
}
