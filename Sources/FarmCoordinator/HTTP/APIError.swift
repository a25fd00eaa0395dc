import FarmCore
import FarmWire
import FlyingFox
import Foundation

/// An HTTP answer that is not a success: a status and a JSON body `{error, field?, issues?, candidates?}` naming what
/// was wrong.
public struct APIError: Error, CustomStringConvertible, Sendable {
    public var status: HTTPStatusCode
    public var message: String
    /// The request field (body key, path or query parameter, header) at fault.
    public var field: String?
    /// A storyboard's broken rules, each with its field and line, as `reelfarm submit` prints them.
    public var issues: [String] = []
    /// The jobs an ambiguous id prefix matches.
    public var candidates: [String] = []

    public init(_ status: HTTPStatusCode, _ message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    public var description: String { "\(status.code) \(message)" }

    /// The body sent for it.
    struct Body: Codable, Sendable {
        var error: String
        var field: String?
        var issues: [String]?
        var candidates: [String]?
    }

    var response: HTTPResponse {
        var headers: HTTPHeaders = [.contentType: "application/json", .cacheControl: "no-store"]
        if status == .unauthorized { headers[HTTPHeader("WWW-Authenticate")] = "Bearer realm=\"reelfarm\"" }
        let body = Body(error: message, field: field, issues: issues.isEmpty ? nil : issues,
                        candidates: candidates.isEmpty ? nil : candidates)
        return HTTPResponse(statusCode: status, headers: headers, body: WireJSON.encode(body))
    }

    /// What the loop's answer means over HTTP: unknown job 404, ambiguous prefix 409, an action the job's state
    /// does not allow 409, a broken storyboard 400 with its issues, the loop not answering 503.
    /// - Parameter field: the request field a `WireError` is about.
    static func from(_ error: any Error, field: String? = nil) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as JobLookupError:
            var api = APIError(e.candidates.isEmpty ? .notFound : .conflict, e.description, field: "id")
            api.candidates = e.candidates
            return api
        case let e as WorkerLookupError:
            return APIError(.notFound, e.description, field: "id")
        case let e as ShotLookupError:
            return APIError(.notFound, e.description, field: "shot")
        case let e as SpecError:
            var api = APIError(.badRequest, e.description, field: "storyboard")
            api.issues = e.issues.map(\.description)
            return api
        case let e as WireError:
            return APIError(e.kind == .invalid ? .conflict : .badRequest, e.message, field: field)
        case let e as CommandInbox.Failure:
            return APIError(.serviceUnavailable, e.description)
        default:
            return APIError(.internalServerError, "\(error)")
        }
    }
}

/// JSON answers in the protocol's conventions (snake_case keys).
enum JSONResponse {
    static func ok<T: Encodable>(_ value: T, status: HTTPStatusCode = .ok) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: WireJSON.encode(value))
    }
}
