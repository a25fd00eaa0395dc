import FarmWire
import Foundation
import Testing

/// The hand-written reader for hot messages must accept and refuse exactly what `JSONDecoder` does for them.
@Suite struct WireReaderTests {
    static let lease = #"{"task":"j0123456789:s0\/3","attempt":2}"#

    /// Documents for each fast type: valid ones, and broken ones (syntax, missing keys, wrong types).
    static let documents: [(type: String, json: String)] = [
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"tail","size":100,"sha256":"ab","blob":0}]}"#),
        ("result", #"{"outputs":[{"output":"chunk","size":3,"sha256":"cd"}],"lease":\#(lease),"extra":[1,{"a":null}]}"#),
        ("result", #" { "lease" : \#(lease) , "outputs" : [ ] } "#),
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"t\u00e9l\n\"x\"","size":1,"sha256":"\ud83c\udfac"}]}"#),
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"tail","size":100,"sha256":"ab","blob":null}]}"#),
        ("result", #"{"lease":\#(lease)}"#),
        ("result", #"{"lease":\#(lease),"outputs":{}}"#),
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"tail","size":"100","sha256":"ab"}]}"#),
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"tail","size":1.5,"sha256":"ab"}]}"#),
        ("result", #"{"lease":\#(lease),"outputs":[{"output":"tail","size":100,"sha256":"ab","blob":"0"}]}"#),
        ("result", #"{"lease":{"task":"j:k"},"outputs":[]}"#),
        ("result", #"{"lease":{"task":7,"attempt":1},"outputs":[]}"#),
        ("result", #"{"lease":\#(lease),"outputs":[]"#),
        ("result", #"{"lease":\#(lease),"outputs":[]}}"#),
        ("result", #"{"lease":\#(lease),"outputs":[],}"#),
        ("result", #"{"lease":\#(lease),"outputs":[01]}"#),
        ("result", #"{"lease":\#(lease),"outputs":["\x"]}"#),
        ("result", "{\"lease\":\(lease),\"outputs\":[\"a\u{01}\"]}"),
        ("result", #"[]"#),
        ("result", ""),
        ("result_part", #"{"lease":\#(lease),"output":"chunk","offset":1048576,"total":2000000}"#),
        ("result_part", #"{"lease":\#(lease),"output":"chunk","offset":-1,"total":2}"#),
        ("result_part", #"{"lease":\#(lease),"output":"chunk","total":2}"#),
        ("result_part", #"{"lease":\#(lease),"output":true,"offset":0,"total":2}"#),
        ("progress", #"{"lease":\#(lease),"step":3,"steps":8}"#),
        ("progress", #"{"lease":\#(lease),"step":3,"steps":8e0}"#),
        ("progress", #"{"lease":\#(lease),"step":3.0,"steps":8.5}"#),
        ("progress", #"{"lease":\#(lease),"step":3.0,"steps":-8E+1}"#),
        ("progress", #"{"lease":\#(lease),"step":3}"#),
        ("heartbeat", #"{"running":[\#(lease),]}"#),
        ("heartbeat", #"{"running":[,]}"#),
        ("progress", #"{"lease":null,"step":3,"steps":8}"#),
        ("heartbeat", #"{"running":[]}"#),
        ("heartbeat", #"{"running":[\#(lease),\#(lease)]}"#),
        ("heartbeat", #"{"running":[{"task":"x"}]}"#),
        ("heartbeat", #"{}"#),
        ("heartbeat", #"{"running":[\#(lease)] "#),
    ]

    func both<P: Decodable & Equatable>(_ type: P.Type, _ json: String) -> (fast: P?, decoder: P?) {
        let m = WireMessage(command: .result, meta: Data(json.utf8))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? m.payload(P.self), try? decoder.decode(P.self, from: Data(json.utf8)))
    }

    @Test(arguments: documents.indices)
    func agreesWithJSONDecoder(_ i: Int) {
        let (type, json) = Self.documents[i]
        switch type {
        case "result":
            let r = both(TaskResult.self, json)
            #expect(r.fast == r.decoder, "\(json)")
        case "result_part":
            let r = both(ResultPart.self, json)
            #expect(r.fast == r.decoder, "\(json)")
        case "progress":
            let r = both(TaskProgress.self, json)
            #expect(r.fast == r.decoder, "\(json)")
        default:
            let r = both(Heartbeat.self, json)
            #expect(r.fast == r.decoder, "\(json)")
        }
    }

    /// SplitMix64, so every run sees the same random documents.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func text() -> String {
            let alphabet: [Character] = ["a", "Z", "0", "/", ":", "\"", "\\", "\n", "\t", "\u{01}", "é", "🎬", "{", "]", " "]
            return String((0..<below(12)).map { _ in alphabet[below(alphabet.count)] })
        }
    }

    /// Results with random strings and numbers, encoded by the real encoder, read back the same; and every document
    /// cut short or with one byte changed is accepted or refused exactly as `JSONDecoder` does.
    @Test func randomResultsAndTheirMutationsAgreeWithJSONDecoder() throws {
        var r = Random(state: 42)
        for _ in 0..<300 {
            let outputs = (0..<r.below(4)).map { i in
                OutputDigest(output: r.text(), size: r.below(1 << 30) - 1000, sha256: r.text(), blob: r.below(2) == 0 ? nil : i)
            }
            let result = TaskResult(lease: Lease(task: r.text(), attempt: r.below(1_000_000)), outputs: outputs)
            let message = WireMessage(.result, result)
            #expect(try message.payload(TaskResult.self) == result)
            var bytes = [UInt8](message.meta)
            if r.below(2) == 0 {
                bytes = Array(bytes.prefix(r.below(bytes.count)))
            } else {
                bytes[r.below(bytes.count)] = [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "1"), UInt8(ascii: ","), 0x80, 0][r.below(6)]
            }
            // On the bytes themselves: a String would turn invalid UTF-8 into replacement characters.
            let fast = try? WireMessage(command: .result, meta: Data(bytes)).payload(TaskResult.self)
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let slow = try? decoder.decode(TaskResult.self, from: Data(bytes))
            #expect(fast == slow, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    @Test func bothValidAndBrokenDocumentsAreExercised() {
        let results = Self.documents.filter { $0.type == "result" }.map { both(TaskResult.self, $0.json).fast }
        #expect(results.contains { $0 != nil } && results.contains { $0 == nil })
    }

    @Test func refusalsNameTheProblem() throws {
        let m = WireMessage(command: .result, meta: Data(#"{"lease":{"task":"j:k","attempt":1}}"#.utf8))
        #expect(throws: WireError(.badPayload, "result metadata does not decode as TaskResult: result metadata lacks \"outputs\"")) {
            try m.payload(TaskResult.self)
        }
    }
}
