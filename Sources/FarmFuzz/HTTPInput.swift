import FarmWire

/// What a client sends the coordinator's HTTP front door before the server sees it: the head reader must return,
/// wait for more or refuse, never trap; a head it accepts is forwarded in a form it accepts again unchanged.
enum HTTPInput {
    static func run(_ bytes: [UInt8]) {
        var small = FrontDoorLimits()
        small.headBytes = 512
        small.headers = 8
        for limits in [FrontDoorLimits(), small] {
            let parsed: RequestHead?
            do { parsed = try RequestHead.parse(bytes[...], limits: limits) } catch { continue }
            guard let head = parsed else {
                // Still reading: only while under the limit.
                precondition(bytes.count < limits.headBytes, "an incomplete head past the limit was not refused")
                continue
            }
            precondition(head.consumed <= bytes.count && head.consumed <= limits.headBytes, "consumed \(head.consumed)")
            precondition(head.forwarded.suffix(21).elementsEqual("Connection: close\r\n\r\n".utf8), "no Connection: close")
            var roomy = FrontDoorLimits()
            roomy.headBytes = head.forwarded.count + 1
            roomy.headers = limits.headers + 1
            guard let again = try? RequestHead.parse(head.forwarded[...], limits: roomy) else {
                fatalError("a forwarded head is not accepted again")
            }
            precondition(again.forwarded == head.forwarded && again.bodyLength == head.bodyLength
                         && again.consumed == head.forwarded.count, "a forwarded head changes when read again")
        }
    }

    static func seeds() -> [[UInt8]] {
        [
            "GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: application/json\r\n\r\n",
            "POST /api/jobs/ab12/priority HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\nX-Reelfarm-CSRF: 1\r\n"
                + "Connection: keep-alive\r\n\r\n{\"priority\": 5}",
            "GET / HTTP/1.0\nHost: a\n\n",
            "POST /api/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ].map { Array($0.utf8) }
    }
}
