import FarmWire
import FlyingFox
import Foundation

/// Who may use the dashboard's server. Bound to loopback it needs no token (but checks the `Host` header, so a web
/// page elsewhere cannot reach it through DNS rebinding); bound anywhere else it needs a bearer token on every route
/// and page. Every POST needs the `X-Reelfarm-CSRF` header, which a browser only sends from the dashboard's own
/// scripts (another origin cannot set it without a CORS preflight this server never grants), and an `Origin`, when
/// one is sent, that is the server's own.
public struct AccessPolicy: Sendable {
    /// The bearer token; `nil` on loopback without one.
    let token: String?
    /// Whether the server listens on a loopback address.
    let loopback: Bool

    /// The header every POST must carry.
    public static let csrfHeader = HTTPHeader("X-Reelfarm-CSRF")
    /// The cookie a browser keeps the token in after opening `/?token=…` once.
    public static let cookie = "reelfarm_token"

    /// - Throws: ``DashboardSetupError`` when bound beyond loopback without a token, or for a token shorter than 16
    ///   characters.
    public init(host: String, token: String?) throws {
        loopback = host.hasPrefix("127.")
        if let token {
            let printable = token.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != ";" && $0 != "," }
            guard token.count >= 16, printable else {
                throw DashboardSetupError("the HTTP token must be at least 16 printable ASCII characters without "
                                          + "spaces, commas or semicolons (--http-token-file)")
            }
        } else if !loopback {
            throw DashboardSetupError("HTTP on \(host) (not loopback) needs a bearer token: --http-token-file FILE")
        }
        self.token = token
    }

    /// Reads a token file (its first line, trimmed).
    public static func token(file: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw DashboardSetupError("HTTP token file \(file) cannot be read")
        }
        return text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }

    /// Whether `request` may go on to its route.
    /// - Throws: ``APIError`` 401 (no or wrong token), 403 (foreign host or origin, a POST without the CSRF header).
    func check(_ request: HTTPRequest) throws {
        let host = request.headers[.host] ?? ""
        if loopback, !Self.isLoopbackHost(host) {
            throw APIError(.forbidden, "Host \(host.prefix(100)) is not a loopback name (use 127.0.0.1 or localhost)",
                           field: "Host")
        }
        if let token {
            guard let given = presentedToken(request), Self.same(given, token) else {
                throw APIError(.unauthorized, "a bearer token is required (Authorization: Bearer TOKEN)",
                               field: "Authorization")
            }
        }
        if request.method == .POST {
            guard let csrf = request.headers[Self.csrfHeader], !csrf.isEmpty else {
                throw APIError(.forbidden, "POST needs the header X-Reelfarm-CSRF: 1", field: "X-Reelfarm-CSRF")
            }
            if let origin = request.headers[HTTPHeader("Origin")], origin != "null" {
                let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
                guard originHost.map(String.init) == host else {
                    throw APIError(.forbidden, "Origin \(origin.prefix(100)) is not this server", field: "Origin")
                }
            }
        }
    }

    /// The token a request presents: `Authorization: Bearer`, the cookie, or `?token=` (how a browser first opens
    /// the dashboard; the server then sets the cookie).
    func presentedToken(_ request: HTTPRequest) -> String? {
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            return String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        if let cookies = request.headers[.cookie] {
            for pair in cookies.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == Self.cookie { return String(kv[1]) }
            }
        }
        return request.method == .GET ? request.query["token"] : nil
    }

    /// `127.x.x.x`, `localhost` or `[::1]`, with or without a port.
    static func isLoopbackHost(_ host: String) -> Bool {
        var name = Substring(host)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            return name[name.index(after: name.startIndex)..<close] == "::1"
        }
        if let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        return name == "localhost" || (name.hasPrefix("127.") && name.split(separator: ".").count == 4
                                       && name.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }

    /// Compares two secrets in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(Digest.sha256(Data(a.utf8)).utf8), y = Array(Digest.sha256(Data(b.utf8)).utf8)
        return x.count == y.count && zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The dashboard's server cannot start as configured (the sentence says which setting is wrong).
public struct DashboardSetupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
