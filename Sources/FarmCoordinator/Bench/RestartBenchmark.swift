import FarmWire
import Foundation

/// `reelfarm bench restart`: how long a coordinator takes from start to its first answer with a large store. It
/// fills a store with `jobs` jobs of `shots` chained shots × `segments` segments (no workers, so every task stays
/// queued: the restart re-plans nothing but reloads every ready task), stops, starts again on the same data and
/// times start → first `status` answered, next to the time one `status` takes once serving.
public struct RestartBenchmark {
    public var jobs: Int
    public var shots: Int
    public var segments: Int

    public init(jobs: Int, shots: Int, segments: Int) {
        self.jobs = jobs
        self.shots = shots
        self.segments = segments
    }

    public struct Result: CustomStringConvertible, Sendable {
        public var jobs: Int
        public var tasks: Int
        public var storeBytes: Int
        public var fillSeconds: Double
        public var restartSeconds: Double
        public var statusSeconds: Double

        public var description: String {
            [
                "store        \(jobs) jobs, \(tasks) tasks: \(String(format: "%.1f", Double(storeBytes) / 1_048_576)) MiB of SQLite"
                    + String(format: " (filled in %.1f s)", fillSeconds),
                String(format: "restart      %.3f s from start to the first status answered", restartSeconds),
                String(format: "status       %.4f s for one answer once serving (ratio %.0f×)", statusSeconds,
                       restartSeconds / max(statusSeconds, 1e-6)),
            ].joined(separator: "\n")
        }
    }

    struct RestartError: Error, CustomStringConvertible { var description: String }

    public func run(log: (String) -> Void) throws -> Result {
        let text = DispatchBenchmark.noopStoryboard(title: "restart benchmark", shots: shots, segmentsPerShot: segments)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-restart-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try BenchCoordinator("restart", directory: directory)
        log("bench restart: submitting \(jobs) jobs of \(shots) shots × \(segments) segments")
        let fillStart = Date()
        do {
            defer { first.close() }
            let client = try FarmClient(endpoint: first.endpoint, timeoutMillis: 60_000)
            for _ in 0..<jobs { _ = try client.submit(storyboard: text, source: "bench", priority: 0) }
        }
        let fill = Date().timeIntervalSince(fillStart)
        let store = directory.appendingPathComponent("reelfarm.sqlite")
        let bytes = ["", "-wal"].reduce(0) { sum, suffix in
            sum + ((try? FileManager.default.attributesOfItem(atPath: store.path + suffix)[.size] as? Int) ?? 0)
        }
        let t0 = Date()
        let second = try BenchCoordinator("restart", directory: directory)
        defer { second.close() }
        let client = try FarmClient(endpoint: second.endpoint, timeoutMillis: 60_000)
        let report = try client.status(job: nil)
        let restart = Date().timeIntervalSince(t0)
        guard report.jobs.count == jobs else {
            throw RestartError(description: "the restarted coordinator lists \(report.jobs.count) jobs, not \(jobs)")
        }
        let t1 = Date()
        _ = try client.status(job: nil)
        return Result(jobs: jobs, tasks: jobs * shots * segments, storeBytes: bytes, fillSeconds: fill, restartSeconds: restart,
                      statusSeconds: Date().timeIntervalSince(t1))
    }
}
