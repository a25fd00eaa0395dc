import FarmStore
import Foundation

/// `GET /api/timeline`'s document, written byte by byte: a timeline holds up to 20 000 attempts and `JSONEncoder`
/// spends microseconds on each. The same JSON `WireJSON.encode(timeline)` makes (snake-case keys, absent fields for
/// `nil`), which a test checks.
enum TimelineJSON {
    static func encode(_ t: Timeline) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(64 + t.attempts.count * 160)
        out += #"{"since":"#.utf8
        number(t.since, into: &out)
        out += #","now":"#.utf8
        number(t.now, into: &out)
        out += #","attempts":["#.utf8
        for (i, a) in t.attempts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"job":"#.utf8
            string(a.job, into: &out)
            out += #","key":"#.utf8
            string(a.key, into: &out)
            out += #","number":"#.utf8
            out += String(a.number).utf8
            out += #","worker":"#.utf8
            string(a.worker, into: &out)
            out += #","started_at":"#.utf8
            number(a.startedAt, into: &out)
            if let ended = a.endedAt {
                out += #","ended_at":"#.utf8
                number(ended, into: &out)
            }
            if let outcome = a.outcome {
                out += #","outcome":"#.utf8
                string(outcome, into: &out)
            }
            if let error = a.error {
                out += #","error":"#.utf8
                string(error, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out += "]}".utf8
        return Data(out)
    }

    /// A JSON string: quotes, backslashes and control characters escaped; other UTF-8 as it is.
    static func string(_ s: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(b)
            case 0 ..< 0x20:
                out += #"\u00"#.utf8
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default:
                out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A finite number as Swift prints it (shortest form that reads back the same); `null` otherwise.
    static func number(_ d: Double, into out: inout [UInt8]) {
        if d.isFinite { out += "\(d)".utf8 } else { out += "null".utf8 }
    }
}
