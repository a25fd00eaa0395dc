import FarmStore
import FarmWire
import FlyingFox
import Foundation
import ServiceLifecycle

/// The coordinator's one HTTP server: the dashboard's pages, the REST API (`/api/…`, described by
/// `openapi.yaml`), Server-Sent Events and `/metrics`.
///
/// It never touches the loop's state, lock or store: it reads the snapshots the loop publishes and hands requests to
/// the loop through the ``CommandInbox``, each with a deadline. Bound to loopback it needs no token; anywhere else
/// every route needs the bearer token (see ``AccessPolicy``).
public final class DashboardService: Service, Sendable {
    private let server: HTTPServer
    private let door: FrontDoor
    private let address: String

    /// - Parameters:
    ///   - host: an IPv4 address to listen on.
    ///   - port: 0 picks a free one (see ``listeningPort(timeout:)``).
    ///   - token: the bearer token; required unless `host` is loopback.
    ///   - coordinator: whose snapshots it serves and whose loop runs its requests.
    /// - Throws: ``DashboardSetupError`` for a missing or weak token, an address that is not IPv4 or a port in use.
    public init(host: String, port: UInt16, token: String?, coordinator: Coordinator,
                limits: FrontDoorLimits = FrontDoorLimits()) throws {
        let access = try AccessPolicy(host: host, token: token)
        let socketAddress: sockaddr_in
        do { socketAddress = try .inet(ip4: host, port: port) } catch {
            throw DashboardSetupError("HTTP address \(host):\(port) is not an IPv4 address and port (--http)")
        }
        address = "\(host):\(port)"
        // Bound here, so that a port in use stops the coordinator before it starts, with a sentence.
        do { door = try FrontDoor(address: socketAddress, text: "HTTP endpoint \(address)", flag: "--http", limits: limits) } catch {
            throw DashboardSetupError("\(error) (--http)")
        }
        coordinator.dashboard.snapshots.enable()
        let previews = PreviewCache(directory: coordinator.store.directory.appendingPathComponent("previews"),
                                    artifacts: coordinator.store.artifacts, assembler: coordinator.config.assembler)
        let reader: StoreReader
        do { reader = try StoreReader(directory: coordinator.store.directory) } catch {
            throw DashboardSetupError("the store cannot be opened for reading: \(error)")
        }
        let router = Self.router(link: coordinator.dashboard, previews: previews, thumbnails: coordinator.assembly.thumbnails,
                                 reader: reader) {
            coordinator.farmGauges
        }
        // The timeout bounds producing a response (a slow upload included), not streaming its body (films, events).
        server = HTTPServer(address: .unix(path: door.backendPath), timeout: 60, logger: .disabled,
                            handler: DashboardHandler(router: router, access: access))
    }

    /// Every route the server answers, with what answers it.
    static func router(link: DashboardLink, previews: PreviewCache?, thumbnails: ThumbnailShelf? = nil,
                       reader: StoreReader?, gauges: @escaping @Sendable () -> FarmGauges) -> Router {
        var router = Router()
        let documents = SnapshotDocuments(slot: link.snapshots)
        let reads = reader.map { JobReads(reader: $0, documents: documents) }
        PagesController(gauges: gauges).addRoutes(to: &router)
        JobsController(link: link, documents: documents, previews: previews, reads: reads).addRoutes(to: &router)
        ShotsController(link: link, previews: previews, thumbnails: thumbnails, reads: reads).addRoutes(to: &router)
        SubmitController(link: link).addRoutes(to: &router)
        WorkersController(link: link, documents: documents, reads: reads).addRoutes(to: &router)
        EventsController(documents: documents, streams: StreamCount()).addRoutes(to: &router)
        return router
    }

    /// Every route as `(method, path pattern)`, for the test that holds them to the OpenAPI document.
    public static var routes: [(method: String, pattern: String)] {
        router(link: DashboardLink(), previews: nil, reader: nil) { FarmGauges() }.routes
            .map { ($0.method, $0.pattern) }
    }

    /// The OpenAPI 3 document of the REST API, as served at `/api/openapi.yaml`.
    public static var openAPIDocument: String { PagesController.openAPIDocument }

    /// Serves until graceful shutdown.
    public func run() async throws {
        try await FrontDoor.serve(server, behind: door, address: address)
    }

    /// The port it listens on, once it does (waits up to `timeout` seconds).
    public func listeningPort(timeout: Double = 5) async throws -> UInt16 {
        try await server.waitUntilListening(timeout: timeout)
        return door.port
    }
}

/// Checks access, routes, and turns every error into a JSON answer (nothing a client sends ends as a 500 without a
/// message, and nothing traps).
struct DashboardHandler: HTTPHandler {
    let router: Router
    let access: AccessPolicy

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        do {
            try access.check(request)
            // `/?token=…` (how a browser first opens a token-protected dashboard): keep the token in a cookie and
            // drop it from the address bar.
            if access.token != nil, request.method == .GET, request.query["token"] != nil {
                let headers: HTTPHeaders = [
                    .location: request.path.hasPrefix("/") ? request.path : "/",
                    .setCookie: "\(AccessPolicy.cookie)=\(access.token ?? ""); HttpOnly; SameSite=Strict; Path=/",
                ]
                return HTTPResponse(statusCode: .seeOther, headers: headers)
            }
            let (route, parameters) = try router.route(method: request.method.rawValue.uppercased(), path: request.path)
            return try await route.handler(Request(http: request, parameters: parameters))
        } catch {
            return APIError.from(error).response
        }
    }
}
