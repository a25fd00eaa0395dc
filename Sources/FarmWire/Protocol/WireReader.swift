import Foundation

/// A small JSON reader for the messages the coordinator decodes once per task (`result`, `result_part`,
/// `progress`, `heartbeat`), where Foundation's `JSONDecoder` costs more than the rest of handling them.
///
/// It parses standard JSON (RFC 8259) into ``WireValue``s and is as strict as the decoder about what the payload
/// types need: a missing key or a wrong type is a `bad-payload` refusal naming the key; unknown keys are ignored.
public enum WireValue: Equatable, Sendable {
    case object([String: WireValue])
    case array([WireValue])
    case string(String)
    case number(Double, exact: Int?)
    case bool(Bool)
    case null

    /// Parses one JSON document.
    public static func parse(_ data: Data) throws(WireError) -> WireValue {
        do {
            return try data.withUnsafeBytes { raw in
                var p = Parser(bytes: raw.bindMemory(to: UInt8.self))
                let v = try p.value(depth: 0)
                p.skipSpace()
                guard p.at == p.bytes.count else { throw p.fail("trailing characters") }
                return v
            }
        } catch let e as WireError {
            throw e
        } catch {
            throw WireError(.badPayload, "\(error)")
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        func fail(_ why: String) -> WireError { WireError(.badPayload, "metadata is not JSON: \(why) at byte \(at)") }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func expect(_ literal: StaticString) throws -> Void {
            let n = literal.utf8CodeUnitCount
            guard at + n <= bytes.count else { throw fail("truncated literal") }
            for i in 0..<n where bytes[at + i] != literal.utf8Start[i] { throw fail("bad literal") }
            at += n
        }

        mutating func value(depth: Int) throws -> WireValue {
            guard depth < 64 else { throw fail("nested too deeply") }
            skipSpace()
            guard at < bytes.count else { throw fail("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var fields: [String: WireValue] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    at += 1
                    fields[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated object") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                        skipSpace()  // a trailing comma is tolerated, as JSONDecoder does
                        if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(fields) }
                        continue
                    }
                    guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                    at += 1
                    return .object(fields)
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [WireValue] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard at < bytes.count else { throw fail("unterminated array") }
                    if bytes[at] == UInt8(ascii: ",") {
                        at += 1
                        skipSpace()
                        if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                        continue
                    }
                    guard bytes[at] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                    at += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return try number()
            }
        }

        mutating func number() throws -> WireValue {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let digitsStart = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            guard at > digitsStart else { throw fail("expected a value") }
            guard bytes[digitsStart] != UInt8(ascii: "0") || at - digitsStart == 1 else { throw fail("leading zero") }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                integral = false
                at += 1
                let f = at
                while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
                guard at > f else { throw fail("expected digits after '.'") }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                integral = false
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                let e = at
                while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
                guard at > e else { throw fail("expected exponent digits") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            guard let d = Double(text) else { throw fail("bad number") }
            // An integer is any number with an integral value that fits (`8e0` and `8.0` too, as JSONDecoder reads them).
            if integral, let n = Int(text) { return .number(d, exact: n) }
            return .number(d, exact: d.rounded() == d && abs(d) < 9.0e15 ? Int(d) : nil)
        }

        mutating func string() throws -> String {
            at += 1  // the opening quote
            let start = at
            // The common case: no escapes.
            while at < bytes.count, bytes[at] != UInt8(ascii: "\""), bytes[at] != UInt8(ascii: "\\"), bytes[at] >= 0x20 { at += 1 }
            guard at < bytes.count else { throw fail("unterminated string") }
            if bytes[at] == UInt8(ascii: "\"") {
                let s = UnsafeBufferPointer(rebasing: bytes[start..<at])
                at += 1
                guard let text = String(validating: s, as: UTF8.self) else { throw fail("string is not UTF-8") }
                return text
            }
            var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<at]))
            while true {
                guard at < bytes.count else { throw fail("unterminated string") }
                let c = bytes[at]
                if c == UInt8(ascii: "\"") { at += 1; break }
                guard c >= 0x20 else { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); at += 1; continue }
                at += 1
                guard at < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("bad escape")
                }
            }
            guard let text = String(validating: out, as: UTF8.self) else { throw fail("string is not UTF-8") }
            return text
        }

        mutating func hex4() throws -> UInt32 {
            guard at + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                at += 1
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("bad hex digit")
                }
            }
            return v
        }
    }

    // MARK: Typed access, each failure naming the key

    /// The value of `key` in this object; `type` names the message in the error.
    /// - Throws: `bad-payload` when this is not an object or the key is missing or null.
    public func field(_ key: String, of type: String) throws(WireError) -> WireValue {
        guard case .object(let fields) = self else { throw WireError(.badPayload, "\(type) metadata is not an object") }
        guard let v = fields[key], v != .null else { throw WireError(.badPayload, "\(type) metadata lacks \"\(key)\"") }
        return v
    }

    /// The value of `key`, or nil when it is missing or null.
    public func optionalField(_ key: String, of type: String) throws(WireError) -> WireValue? {
        guard case .object(let fields) = self else { throw WireError(.badPayload, "\(type) metadata is not an object") }
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    /// The integer at `key` (a number with an integral value, as `JSONDecoder` reads an `Int`).
    public func int(_ key: String, of type: String) throws(WireError) -> Int {
        guard case .number(_, let exact?) = try field(key, of: type) else { throw WireError(.badPayload, "\(type).\(key) is not an integer") }
        return exact
    }

    /// The string at `key`.
    public func string(_ key: String, of type: String) throws(WireError) -> String {
        guard case .string(let s) = try field(key, of: type) else { throw WireError(.badPayload, "\(type).\(key) is not a string") }
        return s
    }

    /// The array at `key`.
    public func array(_ key: String, of type: String) throws(WireError) -> [WireValue] {
        guard case .array(let a) = try field(key, of: type) else { throw WireError(.badPayload, "\(type).\(key) is not an array") }
        return a
    }
}

/// A payload the coordinator decodes with ``WireValue`` instead of `JSONDecoder` (same document, same rules).
public protocol WireReadable {
    init(wire: WireValue) throws(WireError)
}

extension Lease: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        self.init(task: try v.string("task", of: "lease"), attempt: try v.int("attempt", of: "lease"))
    }
}

extension OutputDigest: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        var blob: Int?
        if let b = try v.optionalField("blob", of: "output") {
            guard case .number(_, let exact?) = b else { throw WireError(.badPayload, "output.blob is not an integer") }
            blob = exact
        }
        self.init(output: try v.string("output", of: "output"), size: try v.int("size", of: "output"),
                  sha256: try v.string("sha256", of: "output"), blob: blob)
    }
}

extension TaskResult: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        var outputs: [OutputDigest] = []
        for o in try v.array("outputs", of: "result") { outputs.append(try OutputDigest(wire: o)) }
        self.init(lease: try Lease(wire: try v.field("lease", of: "result")), outputs: outputs)
    }
}

extension ResultPart: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        self.init(lease: try Lease(wire: try v.field("lease", of: "result_part")), output: try v.string("output", of: "result_part"),
                  offset: try v.int("offset", of: "result_part"), total: try v.int("total", of: "result_part"))
    }
}

extension TaskProgress: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        self.init(lease: try Lease(wire: try v.field("lease", of: "progress")), step: try v.int("step", of: "progress"),
                  steps: try v.int("steps", of: "progress"))
    }
}

extension Heartbeat: WireReadable {
    public init(wire v: WireValue) throws(WireError) {
        var running: [Lease] = []
        for l in try v.array("running", of: "heartbeat") { running.append(try Lease(wire: l)) }
        self.init(running: running)
    }
}
