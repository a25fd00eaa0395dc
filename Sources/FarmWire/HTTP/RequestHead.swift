/// What the front door (``FrontDoor``) allows a client to send before the HTTP server sees a byte of it.
public struct FrontDoorLimits: Sendable, Equatable {
    /// Connections open at once; one more is answered 503 and closed.
    public var connections: Int = 512
    /// Bytes of a request's head: its request line and header lines with their line ends.
    public var headBytes: Int = 16 << 10
    /// Header lines in a head.
    public var headers: Int = 100
    /// Seconds from the connection's accept to the end of its head.
    public var headSeconds: Double = 10
    /// Seconds a request body may go without a byte arriving.
    public var bodyIdleSeconds: Double = 30
    /// Seconds a response may wait for the client to take any of it (a client that stopped reading).
    public var writeIdleSeconds: Double = 60

    public init() {}
}

/// A request head the front door accepted, rewritten for the server behind it.
public struct RequestHead: Equatable, Sendable {
    /// The head to forward: the client's lines with `Connection` and `Keep-Alive` replaced by `Connection: close`, so
    /// that every request on the wire behind the door is the first and only one of its connection.
    public var forwarded: [UInt8]
    /// The body's length from `Content-Length` (0 without one).
    public var bodyLength: Int
    /// Bytes of the client's input the head took, line ends included.
    public var consumed: Int
}

/// Why the front door refused a request before the server saw it: an HTTP status and a sentence.
public struct HeadRefusal: Error, Equatable, Sendable {
    public var status: Int
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    /// A complete response: JSON like every ``APIError``, and `Connection: close`.
    public var response: [UInt8] {
        let reason = [400: "Bad Request", 408: "Request Timeout", 411: "Length Required", 413: "Content Too Large",
                      431: "Request Header Fields Too Large", 503: "Service Unavailable"][status] ?? "Error"
        var escaped = ""
        for scalar in message.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += " "
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        let body = Array("{\"error\":\"\(escaped)\"}".utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}

extension RequestHead {
    /// Reads a head from the start of `bytes`, the client's input so far.
    /// - Returns: nil while the head is incomplete and within the limits.
    /// - Throws: ``HeadRefusal`` for a head past a limit or not HTTP/1.x as RFC 9112 frames it.
    public static func parse(_ bytes: ArraySlice<UInt8>, limits: FrontDoorLimits) throws -> RequestHead? {
        // The end of the head: an empty line (CRLF CRLF, or bare LFs, which RFC 9112 §2.2 lets a server accept).
        var end: Int?
        let scanned = bytes.prefix(limits.headBytes)
        var index = scanned.startIndex
        while end == nil, let lf = scanned[index...].firstIndex(of: 0x0A) {
            let next = lf + 1
            if next < scanned.endIndex, scanned[next] == 0x0A {
                end = next + 1
            } else if next + 1 < scanned.endIndex, scanned[next] == 0x0D, scanned[next + 1] == 0x0A {
                end = next + 2
            }
            index = next
        }
        guard let end else {
            if bytes.count >= limits.headBytes {
                throw HeadRefusal(status: 431, message: "the request's head (request line and headers) is over "
                                  + "\(limits.headBytes) bytes")
            }
            return nil
        }
        var lines = bytes[bytes.startIndex..<end].split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first else { throw HeadRefusal(status: 400, message: "no request line") }
        try checkRequestLine(requestLine)
        let headerLines = lines.dropFirst()
        guard headerLines.count <= limits.headers else {
            throw HeadRefusal(status: 431, message: "the request has \(headerLines.count) header lines; at most "
                              + "\(limits.headers) are accepted")
        }
        var forwarded = Array(requestLine) + [0x0D, 0x0A]
        var length: Int?
        for (number, line) in headerLines.enumerated() {
            let (name, value) = try header(line, number: number + 1)
            switch name {
            case "content-length":
                guard !value.isEmpty, value.count <= 15, value.allSatisfy({ (0x30...0x39).contains($0) }),
                      let n = Int(String(decoding: value, as: UTF8.self)) else {
                    throw HeadRefusal(status: 400, message: "header Content-Length is not a length in bytes")
                }
                if let length, length != n {
                    throw HeadRefusal(status: 400, message: "header Content-Length is given twice with different values")
                }
                length = n
            case "transfer-encoding":
                throw HeadRefusal(status: 411, message: "header Transfer-Encoding: request bodies are accepted with a "
                                  + "Content-Length only")
            case "connection", "keep-alive":
                continue
            default: break
            }
            forwarded += line + [0x0D, 0x0A]
        }
        forwarded += Array("Connection: close\r\n\r\n".utf8)
        return RequestHead(forwarded: forwarded, bodyLength: length ?? 0, consumed: end - bytes.startIndex)
    }

    /// `METHOD SP target SP HTTP/1.x`, with a token for a method and a target of visible characters.
    static func checkRequestLine(_ line: ArraySlice<UInt8>) throws {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte), !parts[1].isEmpty,
              parts[1].allSatisfy({ (0x21...0x7E).contains($0) || $0 >= 0x80 }),
              parts[2].elementsEqual("HTTP/1.1".utf8) || parts[2].elementsEqual("HTTP/1.0".utf8) else {
            throw HeadRefusal(status: 400, message: "the request line is not METHOD TARGET HTTP/1.1")
        }
    }

    /// One header line's lowercased name and its value without surrounding blanks.
    static func header(_ line: ArraySlice<UInt8>, number: Int) throws -> (name: String, value: ArraySlice<UInt8>) {
        guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex,
              line[line.startIndex..<colon].allSatisfy(isTokenByte) else {
            // A line starting with a blank (obsolete line folding, RFC 9112 §5.2) lands here too.
            throw HeadRefusal(status: 400, message: "header line \(number) is not NAME: VALUE")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }) else {
            throw HeadRefusal(status: 400, message: "header line \(number) holds a control character")
        }
        return (String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased(), value)
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
