import FarmWire
import Foundation
import Testing

@Suite struct ZMQSocketTests {
    @Test func routerAndDealerExchangeMultipartMessagesInProcess() throws {
        let context = ZMQContext()
        let inproc = try ZMQSocket(context, .router)
        try inproc.bind("inproc://wire-test")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setIdentity(Array("worker-1".utf8))
        try dealer.connect("inproc://wire-test")
        try dealer.setReceiveTimeout(milliseconds: 2000)
        try inproc.setReceiveTimeout(milliseconds: 2000)
        let payload = (0..<100_000).map { UInt8($0 % 251) }
        try dealer.send([Array("hello".utf8), payload, []])
        let got = try inproc.receive()
        #expect(got.count == 4)
        #expect(got[0] == Array("worker-1".utf8))
        #expect(got[1] == Array("hello".utf8) && got[2] == payload && got[3].isEmpty)
        try inproc.send([got[0], Array("ok".utf8)])
        #expect(try dealer.receive() == [Array("ok".utf8)])
    }

    @Test func tcpLoopbackRoundTrip() throws {
        let context = ZMQContext()
        let port = 20_000 + Int(getpid() % 20_000)
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:\(port)")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect("tcp://127.0.0.1:\(port)")
        try router.setReceiveTimeout(milliseconds: 5000)
        try dealer.send([[1, 2, 3]])
        let got = try router.receive()
        #expect(got.count == 2 && got[1] == [1, 2, 3])
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
