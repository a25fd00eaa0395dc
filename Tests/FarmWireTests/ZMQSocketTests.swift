import FarmWire
import Foundation
import Testing

@Suite(.timeLimit(.minutes(2))) struct ZMQSocketTests {
    @Test func routerAndDealerExchangeMultipartMessagesInProcess() throws {
        let context = ZMQContext()
        let inproc = try ZMQSocket(context, .router)
        try inproc.bind("inproc://wire-test")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setIdentity(Array("worker-1".utf8))
        try dealer.connect("inproc://wire-test")
        try dealer.setReceiveTimeout(milliseconds: 2000)
        try inproc.setReceiveTimeout(milliseconds: 2000)
        let payload = Data((0..<100_000).map { UInt8($0 % 251) })
        try dealer.send([Data("hello".utf8), payload, Data()])
        let got = try #require(try inproc.receive())
        #expect(got.count == 4)
        #expect(got[0] == Data("worker-1".utf8))
        #expect(got[1] == Data("hello".utf8) && got[2] == payload && got[3].isEmpty)
        try inproc.send([got[0], Data("ok".utf8)])
        #expect(try dealer.receive() == [Data("ok".utf8)])
        #expect(try dealer.receive(dontWait: true) == nil)
    }

    @Test func tcpLoopbackRoundTrip() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect(endpoint)
        try dealer.send([Data([1, 2, 3])])
        #expect(try router.poll(milliseconds: 5000))
        let got = try #require(try router.receive())
        #expect(got.count == 2 && got[1] == Data([1, 2, 3]))
    }

    @Test func errorsNameTheCall() {
        let context = ZMQContext()
        do {
            let s = try ZMQSocket(context, .dealer)
            try s.bind("nonsense://x")
            Issue.record("a bad endpoint was accepted")
        } catch {
            #expect(error.description.contains("zmq_bind(nonsense://x)"))
        }
        #expect(ZMQContext.version.hasPrefix("4."))
    }
}
