import Foundation

/// A ZeroMQ endpoint as people type it: `tcp://HOST:PORT`, `ipc://PATH`, `inproc://NAME`, or a bare `HOST:PORT`,
/// which means TCP. Checked here so a typo gets a sentence instead of ZeroMQ's `Invalid argument (errno 22)`.
public enum Endpoint {
    /// The endpoint ZeroMQ takes: `HOST:PORT` becomes `tcp://HOST:PORT`; `scheme://…` is kept as written.
    /// - Parameters:
    ///   - text: what was typed (a flag, an environment variable or a config file value).
    ///   - what: how messages name it, e.g. `--coordinator`.
    /// - Throws: ``EndpointError`` for anything else, saying to use `tcp://HOST:PORT`. A port may be `*` (bind to
    ///   a free port).
    public static func normalize(_ text: String, what: String = "endpoint") throws(EndpointError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let scheme = trimmed.range(of: "://") {
            // Other transports (ipc, inproc, …) are ZeroMQ's to judge; TCP is the one people mistype.
            let rest = trimmed[scheme.upperBound...]
            guard trimmed[..<scheme.lowerBound] == "tcp" else { return trimmed }
            guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex, isPort(rest[rest.index(after: colon)...])
            else {
                throw EndpointError("\(what) \"\(text)\" needs a host and a port: use tcp://HOST:PORT, e.g. tcp://127.0.0.1:7700")
            }
            return trimmed
        }
        guard isHostPort(Substring(trimmed)) else {
            throw EndpointError("\(what) \"\(text)\" is not an endpoint: use tcp://HOST:PORT, e.g. tcp://127.0.0.1:7700")
        }
        return "tcp://" + trimmed
    }

    /// `HOST:PORT` where HOST is a name, an IPv4 address, `*` or a bracketed IPv6 address and PORT is 1…65535 or `*`.
    private static func isHostPort(_ text: Substring) -> Bool {
        guard let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon], port = text[text.index(after: colon)...]
        let portOK = isPort(port)
        let hostOK: Bool
        if host.hasPrefix("[") {
            hostOK = host.hasSuffix("]") && host.count > 2
        } else {
            hostOK = !host.isEmpty && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._*".contains($0)) }
        }
        return hostOK && portOK
    }
}

extension Endpoint {
    /// 1…65535, or `*` for a free port when binding.
    fileprivate static func isPort(_ text: Substring) -> Bool { text == "*" || UInt16(text).map { $0 > 0 } == true }
}

/// An endpoint that cannot be used, with the sentence saying how to write one.
public struct EndpointError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
