import FlyingFox
import Foundation

/// One route of the dashboard's server: a method, a path pattern (`/api/jobs/{id}`, as the OpenAPI document writes
/// it) and what answers it.
public struct Route: Sendable {
    public var method: String
    public var pattern: String
    let segments: [Segment]
    let handler: @Sendable (Request) async throws -> HTTPResponse

    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    init(_ method: String, _ pattern: String, _ handler: @escaping @Sendable (Request) async throws -> HTTPResponse) {
        self.method = method
        self.pattern = pattern
        segments = pattern.split(separator: "/").map {
            $0.hasPrefix("{") && $0.hasSuffix("}") ? .parameter(String($0.dropFirst().dropLast()))
                : .literal(String($0))
        }
        self.handler = handler
    }

    /// The path parameters when `path` matches, else `nil`.
    func match(_ path: [Substring]) -> [String: String]? {
        guard path.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (part, segment) in zip(path, segments) {
            switch segment {
            case let .literal(text): guard part == text else { return nil }
            case let .parameter(name):
                guard let value = String(part).removingPercentEncoding, !value.isEmpty else { return nil }
                parameters[name] = value
            }
        }
        return parameters
    }
}

/// A request as a handler sees it: FlyingFox's request and the path parameters.
public struct Request: Sendable {
    public var http: HTTPRequest
    public var parameters: [String: String]

    /// A path parameter the route declares.
    func parameter(_ name: String) throws -> String {
        guard let value = parameters[name] else { throw APIError(.badRequest, "missing path parameter", field: name) }
        return value
    }

    /// An integer query parameter within `range`, or `fallback` when absent.
    func query(_ name: String, in range: ClosedRange<Int>, fallback: Int) throws -> Int {
        guard let text = http.query[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(.badRequest, "must be an integer in \(range.lowerBound)...\(range.upperBound)", field: name)
        }
        return value
    }

    /// The body, refused past `limit` bytes (read no further than that).
    func body(limit: Int) async throws -> Data {
        if let length = http.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.payloadTooLarge, "the body is \(length) bytes; the limit is \(limit)", field: "body")
        }
        var data = Data()
        for try await chunk in http.bodySequence {
            data.append(chunk)
            guard data.count <= limit else {
                throw APIError(.payloadTooLarge, "the body is over the limit of \(limit) bytes", field: "body")
            }
        }
        return data
    }
}

/// The server's routes, matched in order; a path that matches with another method is a 405.
public struct Router: Sendable {
    public private(set) var routes: [Route] = []

    mutating func add(_ method: String, _ pattern: String,
                      _ handler: @escaping @Sendable (Request) async throws -> HTTPResponse) {
        routes.append(Route(method, pattern, handler))
    }

    /// The route for a request and its parameters.
    /// - Throws: ``APIError`` 404 (no such path) or 405 (no such method on it).
    func route(method: String, path: String) throws -> (Route, [String: String]) {
        let parts = path.split(separator: "/")
        var allowed: [String] = []
        for route in routes {
            guard let parameters = route.match(parts) else { continue }
            if route.method == method { return (route, parameters) }
            allowed.append(route.method)
        }
        if allowed.isEmpty { throw APIError(.notFound, "no such path: \(path.prefix(200))") }
        throw APIError(.methodNotAllowed,
                       "\(method) is not allowed on \(path.prefix(200)); use \(allowed.joined(separator: ", "))")
    }
}
