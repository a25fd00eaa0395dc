import FlyingFox
import Foundation

/// The dashboard's pages and assets (compiled into the binary: no CDN, no files beside it), the OpenAPI document and
/// Prometheus' `/metrics`.
struct PagesController {
    let gauges: @Sendable () -> FarmGauges

    func addRoutes(to router: inout Router) {
        router.add("GET", "/") { _ in Self.asset(PackageResources.index_html, "text/html; charset=utf-8") }
        router.add("GET", "/app.js") { _ in Self.asset(PackageResources.app_js, "text/javascript; charset=utf-8") }
        router.add("GET", "/app.css") { _ in Self.asset(PackageResources.app_css, "text/css; charset=utf-8") }
        router.add("GET", "/api/openapi.yaml") { _ in Self.asset(PackageResources.openapi_yaml, "application/yaml") }
        router.add("GET", "/metrics") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: Data(MetricsService.exposition(gauges()).utf8))
        }
    }

    /// The OpenAPI document the routes are held to.
    public static var openAPIDocument: String { String(decoding: PackageResources.openapi_yaml, as: UTF8.self) }

    private static func asset(_ bytes: [UInt8], _ type: String) -> HTTPResponse {
        HTTPResponse(statusCode: .ok,
                     headers: [.contentType: type, .cacheControl: "no-cache",
                               HTTPHeader("Content-Security-Policy"):
                                   "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'",
                               HTTPHeader("X-Content-Type-Options"): "nosniff", HTTPHeader("X-Frame-Options"): "DENY"],
                     body: Data(bytes))
    }
}
