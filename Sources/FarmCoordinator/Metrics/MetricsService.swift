import FlyingFox
import Foundation
import Prometheus
import ServiceLifecycle

/// Serves the farm's gauges at `GET /metrics` in Prometheus' text format, for a monitoring system to scrape.
///
/// It only reads the snapshot the coordinator loop publishes (``Coordinator/farmGauges``), so a scrape never waits
/// on the loop or the store.
public final class MetricsService: Service, Sendable {
    private let server: HTTPServer
    private let door: FrontDoor
    private let address: String
    private let gauges: @Sendable () -> FarmGauges

    /// - Parameters:
    ///   - host: an IPv4 address to listen on (`127.0.0.1`; `0.0.0.0` for every interface).
    ///   - port: 0 picks a free one (see ``listeningPort()``).
    ///   - gauges: the latest snapshot, read on every scrape.
    /// - Throws: ``MetricsError`` for an address that is not IPv4.
    public init(host: String, port: UInt16, gauges: @escaping @Sendable () -> FarmGauges) throws {
        let socketAddress: sockaddr_in
        do {
            socketAddress = try .inet(ip4: host, port: port)
        } catch {
            throw MetricsError(description: "metrics address \(host):\(port) is not an IPv4 address and port")
        }
        address = "\(host):\(port)"
        // Bound here, so that a port in use stops the coordinator before it starts, with a sentence; scrapers reach the
        // server through the door's limits (see ``FrontDoor``).
        do { door = try FrontDoor(address: socketAddress, text: "metrics endpoint \(address)", flag: "--metrics") } catch {
            throw MetricsError(description: "\(error)")
        }
        server = HTTPServer(address: .unix(path: door.backendPath), timeout: 15, logger: .disabled)
        self.gauges = gauges
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let gauges = self.gauges
        await server.appendRoute(HTTPRoute(method: .GET, path: "/metrics")) { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(Self.exposition(gauges()).utf8))
        }
        do { try await FrontDoor.serve(server, behind: door, address: address) } catch let error as DashboardSetupError {
            throw MetricsError(description: "metrics endpoint: \(error.description)")
        }
    }

    /// The port it listens on, once it does (waits up to `timeout` seconds).
    public func listeningPort(timeout: Double = 5) async throws -> UInt16 {
        try await server.waitUntilListening(timeout: timeout)
        return door.port
    }

    /// The Prometheus text for a snapshot: `reelfarm_…` gauges and `…_total` counters with HELP lines.
    public static func exposition(_ g: FarmGauges) -> String {
        let registry = PrometheusCollectorRegistry()
        func name(_ metric: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "reelfarm", metricName: metric, unitName: unit, helpText: help)
        }
        let jobs = name("jobs", "Jobs by state.")
        for (state, count) in g.jobs.sorted(by: { $0.key < $1.key }) {
            registry.makeGauge(descriptor: jobs, labels: [("state", state)]).set(Int64(count))
        }
        let gauges: [(String, Int, String)] = [
            ("tasks_ready", g.tasksReady, "Tasks waiting in the ready queue for a worker."),
            ("tasks_running", g.tasksRunning, "Leases out on workers."),
            ("workers", g.workers, "Connected workers."),
            ("workers_draining", g.workersDraining, "Connected workers that are draining."),
            ("worker_slots", g.slots, "Task slots of connected workers."),
            ("worker_slots_busy", g.slotsBusy, "Task slots holding a lease."),
            ("worker_capacity", g.workerCapacity, "Workers the coordinator's file-descriptor limit allows at once."),
            ("store_wal_frames", g.checkpoints.logFrames, "Pages in the store's write-ahead log at its last checkpoint."),
        ]
        for (metric, value, help) in gauges {
            registry.makeGauge(descriptor: name(metric, help)).set(Int64(value))
        }
        let counters: [(String, Int, String)] = [
            ("dispatched", g.dispatchedTotal, "Leases handed out since the coordinator started."),
            ("results", g.resultsTotal, "Tasks finished since the coordinator started."),
            ("films", g.filmsTotal, "Films assembled since the coordinator started."),
            ("film_frames", g.framesTotal, "Frames of the films assembled since the coordinator started."),
            ("client_errors", g.clientErrorsTotal, "Client requests refused for the user's mistake (unknown job, finished job)."),
            ("store_checkpoints", g.checkpoints.checkpoints, "Checkpoints of the store's log run off the loop."),
            ("store_checkpoint_frames", g.checkpoints.copiedFrames, "Log pages those checkpoints copied into the database file."),
            ("store_checkpoint_failures", g.checkpoints.failures, "Checkpoints of the store's log that failed."),
            ("store_inline_checkpoints", g.checkpoints.inline,
             "Checkpoints the loop's own commits ran because the log passed its ceiling (64 MiB)."),
        ]
        for (metric, value, help) in counters {
            registry.makeCounter(descriptor: name(metric, unit: "total", help)).increment(by: Int64(value))
        }
        let refused = name("refused", unit: "total", "Messages the coordinator refused, by reason.")
        for (reason, count) in g.refusedTotal.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(descriptor: refused, labels: [("reason", reason)]).increment(by: Int64(count))
        }
        var text = registry.emitToString()
        text += g.loopBusy.exposition(name: "reelfarm_loop_busy_seconds",
                                      help: "Time each loop iteration kept the coordinator from reading its socket.")
        return text
    }

    public struct MetricsError: Error, CustomStringConvertible {
        public var description: String
    }
}
