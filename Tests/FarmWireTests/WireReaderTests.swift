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
