import ArgumentParser
import FarmCoordinator
import FarmCore
import FarmMedia
import FarmRender
import FarmWire
import Foundation
import Logging
import ServiceLifecycle

extension ReelFarm {
    struct Coordinator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the farm's coordinator: durable job state in SQLite, tasks to workers over ZeroMQ.",
            discussion: """
                Settings come from, in order: these flags, then REELFARM_DATA, REELFARM_BIND, REELFARM_CURVE (1), \
                REELFARM_AUTHORIZED_KEYS, REELFARM_KEEP_INTERMEDIATES (1), REELFARM_METRICS, REELFARM_HTTP and \
                REELFARM_HTTP_TOKEN_FILE, then the file given by --config (YAML: data, bind, curve, authorized_keys, \
                release_intermediates, metrics, http, http_token_file), then \
                the defaults (./reelfarm-data, tcp://127.0.0.1:7700, no CURVE). The bound endpoint is written to \
                DATA/endpoint. With CURVE the key pair lives in DATA/curve/coordinator.key (secret) and \
                DATA/curve/coordinator.pub (give this to workers and clients: --coordinator-key).
                """)

        @Option(help: "Data directory (SQLite store, artifacts, films).") var data: String?
        @Option(help: "ZeroMQ endpoint to bind, tcp://HOST:PORT or HOST:PORT (port * picks a free one).") var bind: String?
        @Option(help: "Config file (YAML with keys data, bind, curve, authorized_keys).") var config: String?
        @Flag(help: "Encrypt the endpoint with CURVE; peers need the coordinator's public key.") var curve = false
        @Flag(help: ArgumentHelp("Kept by default now; accepted for older scripts.", visibility: .hidden))
        var keepIntermediates = false
        @Flag(help: """
            Delete a finished job's chunks, PCM and latents once its film is stored (kept by default, so that \
            revisions and later jobs reuse its segments instead of rendering them again).
            """)
        var releaseIntermediates = false
        @Option(help: "With CURVE, admit only the public keys in this file (one per line).") var authorizedKeys: String?
        @Option(help: ArgumentHelp("Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464).",
                                   valueName: "host:port"))
        var metrics: String?
        @Option(help: ArgumentHelp("Serve the dashboard, the REST API (/api, see /api/openapi.yaml) and /metrics at "
                                   + "http://HOST:PORT (e.g. 127.0.0.1:8080).", valueName: "host:port"))
        var http: String?
        @Option(help: ArgumentHelp("Bearer token for --http (its first line); required unless HOST is loopback.",
                                   valueName: "file"))
        var httpTokenFile: String?

        /// `HOST:PORT` with an IPv4 host.
        static func metricsAddress(_ text: String, what: String = "metrics") throws -> (host: String, port: UInt16) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let port = UInt16(parts[1]),
                  parts[0].split(separator: ".").count == 4, parts[0].split(separator: ".").allSatisfy({ UInt8($0) != nil })
            else {
                let example = what == "metrics" ? 9464 : 8080
                throw ValidationError("\(what) address \(text) must be IPV4:PORT, e.g. 127.0.0.1:\(example)")
            }
            return (String(parts[0]), port)
        }

        @OptionGroup var log: LogOptions

        func validate() throws {
            if let metrics { _ = try Self.metricsAddress(metrics) }
            if let http { _ = try Self.metricsAddress(http, what: "--http") }
            if let bind {
                do { _ = try Endpoint.normalize(bind, what: "--bind") } catch { throw ValidationError(error.description) }
            }
        }

        func run() async throws {
            log.apply()
            let env = ProcessInfo.processInfo.environment
            let file = try config.map(ConfigFile.load) ?? [:]
            let dataDir = data ?? env["REELFARM_DATA"] ?? file["data"] ?? "reelfarm-data"
            let endpoint: String
            do {
                endpoint = try Endpoint.normalize(
                    bind ?? env["REELFARM_BIND"] ?? file["bind"] ?? "tcp://127.0.0.1:7700",
                    what: bind != nil ? "--bind" : env["REELFARM_BIND"] != nil ? "REELFARM_BIND" : "bind (config file)")
            } catch {
                printError("reelfarm coordinator: \(error)")
                throw ExitCode.validationFailure
            }
            try FileChecks.dataDirectory(dataDir, command: "coordinator")
            var configuration = CoordinatorConfiguration(
                dataDirectory: URL(fileURLWithPath: dataDir), bind: endpoint,
                geometry: { model throws(SpecError) in try EngineRegistry.plannedGeometry(for: model) },
                assembler: MP4FilmAssembler())
            configuration.images = { spec, files throws(SpecError) in try StoryboardImages.load(spec, files: files) }
            configuration.keepIntermediates = !(releaseIntermediates || env["REELFARM_RELEASE_INTERMEDIATES"] == "1"
                || file["release_intermediates"] == "true")
            configuration.builtInEngineVersion = "reelfarm \(reelfarmVersion)"
            let authorized = authorizedKeys ?? env["REELFARM_AUTHORIZED_KEYS"] ?? file["authorized_keys"]
            if curve || env["REELFARM_CURVE"] == "1" || file["curve"] == "true" || authorized != nil {
                do {
                    let base = URL(fileURLWithPath: dataDir).appendingPathComponent("curve/coordinator")
                    configuration.curve = try CurveKeyPair.loadOrCreate(at: base)
                    if let authorized {
                        guard let text = try? String(contentsOfFile: authorized, encoding: .utf8) else {
                            throw CurveKeyError("authorized keys \(authorized): cannot be read")
                        }
                        let keys = CurveKeyPair.keyLines(text)
                        if let bad = keys.first(where: { !CurveKeyPair.isKey($0) }) {
                            throw CurveKeyError("authorized keys \(authorized): \"\(bad)\" is not a CURVE public key")
                        }
                        configuration.authorizedKeys = Set(keys)
                    }
                    printError("reelfarm coordinator: CURVE on; public key \(configuration.curve!.publicKey) (\(base.path).pub)"
                               + (configuration.authorizedKeys.map { ", \($0.count) authorized peer key(s)" } ?? ""))
                } catch {
                    printError("reelfarm coordinator: \(FileChecks.describe(error, path: dataDir))")
                    throw ExitCode.failure
                }
            }
            do {
                let coordinator = try FarmCoordinator.Coordinator(configuration: configuration)
                let service = CoordinatorService(coordinator: coordinator) {
                    printError("reelfarm coordinator: listening on \($0), data in \(dataDir)")
                }
                var services: [any Service] = [service]
                if let metrics = metrics ?? env["REELFARM_METRICS"] ?? file["metrics"] {
                    let (host, port) = try Self.metricsAddress(metrics)
                    let exporter = try MetricsService(host: host, port: port) { coordinator.farmGauges }
                    services.append(exporter)
                    Task {
                        if let bound = try? await exporter.listeningPort() {
                            printError("reelfarm coordinator: metrics on http://\(host):\(bound)/metrics")
                        }
                    }
                }
                if let http = http ?? env["REELFARM_HTTP"] ?? file["http"] {
                    let (host, port) = try Self.metricsAddress(http, what: "--http")
                    let token = try (httpTokenFile ?? env["REELFARM_HTTP_TOKEN_FILE"] ?? file["http_token_file"])
                        .map(AccessPolicy.token(file:))
                    let dashboard = try DashboardService(host: host, port: port, token: token, coordinator: coordinator)
                    services.append(dashboard)
                    Task {
                        if let bound = try? await dashboard.listeningPort() {
                            printError("reelfarm coordinator: dashboard on http://\(host):\(bound)/"
                                       + (token == nil ? "" : " (bearer token required)"))
                        }
                    }
                }
                // SIGTERM and SIGINT stop the loop after its current iteration; the store stays consistent.
                let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                         logger: Logger(label: "reelfarm.coordinator"))
                try await group.run()
            } catch {
                let what = error is CocoaError ? FileChecks.describe(error, path: dataDir) : "\(error)"
                printError("reelfarm coordinator: data \(dataDir), endpoint \(endpoint): \(what)")
                throw ExitCode.failure
            }
            printError("reelfarm coordinator: stopped")
        }
    }
}

/// A flat `key: value` YAML config file.
enum ConfigFile {
    static func load(_ path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("config file \(path) cannot be read")
        }
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            out[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
