import FarmWire
import Testing

@Suite struct EndpointTests {
    @Test func hostPortBecomesTCP() throws {
        #expect(try Endpoint.normalize("127.0.0.1:7711") == "tcp://127.0.0.1:7711")
        #expect(try Endpoint.normalize(" farm-1.example.org:7700 ") == "tcp://farm-1.example.org:7700")
        #expect(try Endpoint.normalize("*:*") == "tcp://*:*")
        #expect(try Endpoint.normalize("[::1]:7700") == "tcp://[::1]:7700")
    }

    @Test func schemesAreKept() throws {
        #expect(try Endpoint.normalize("tcp://127.0.0.1:*") == "tcp://127.0.0.1:*")
        #expect(try Endpoint.normalize("ipc:///tmp/farm.sock") == "ipc:///tmp/farm.sock")
        #expect(try Endpoint.normalize("inproc://farm") == "inproc://farm")
    }

    @Test(arguments: ["127.0.0.1", "localhost", "127.0.0.1:0", "127.0.0.1:70000", ":7700", "tcp://127.0.0.1", "", "a b:1"])
    func refusesWithTheFormToUse(_ text: String) {
        #expect {
            try Endpoint.normalize(text, what: "--coordinator")
        } throws: { error in
            let message = "\(error)"
            return message.contains("--coordinator \"\(text)\"") && message.contains("use tcp://HOST:PORT")
        }
    }
}
