import FarmWire
import Foundation
import Testing

@Suite(.timeLimit(.minutes(3))) struct CurveTests {
    @Test func keyPairsAreZ85AndTheSecretGivesThePublicKey() throws {
        let a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        #expect(a != b)
        #expect(CurveKeyPair.isKey(a.publicKey) && CurveKeyPair.isKey(a.secretKey))
        #expect(try CurveKeyPair(secretKey: a.secretKey) == a)
        #expect(!CurveKeyPair.isKey("too short") && !CurveKeyPair.isKey(String(repeating: "~", count: 40)))
        #expect(throws: CurveKeyError.self) { try CurveKeyPair(secretKey: "nope") }
    }

    @Test func keyFilesRoundTripAndTheSecretIsPrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curve-\(UUID().uuidString)")
        let base = dir.appendingPathComponent("w1")
        let pair = try CurveKeyPair.loadOrCreate(at: base)
        #expect(try CurveKeyPair.loadOrCreate(at: base) == pair)  // loaded, not made anew
        #expect(try CurveKeyPair.readKey(base.appendingPathExtension("pub")) == pair.publicKey)
        #expect(try CurveKeyPair.keyOrFile(base.appendingPathExtension("pub").path) == pair.publicKey)
        #expect(try CurveKeyPair.keyOrFile(pair.publicKey) == pair.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: base.appendingPathExtension("key").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(throws: CurveKeyError.self) { try CurveKeyPair.readKey(dir.appendingPathComponent("missing.pub")) }
    }

    /// Whether a message from a new DEALER with `security` reaches `router` within a second.
    static func reaches(_ router: ZMQSocket, _ endpoint: String, _ zmq: ZMQContext, _ security: CurveClientSecurity?) throws -> Bool {
        let dealer = try ZMQSocket(zmq, .dealer)
        defer { dealer.close() }
        try security?.apply(to: dealer)
        try dealer.connect(endpoint)
        try dealer.send([Data("ping".utf8)])
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline {
            if try router.poll(milliseconds: 50), let frames = try router.receive(dontWait: true) {
                return frames.last == Data("ping".utf8)
            }
        }
        return false
    }

    /// Two sockets of one process: the CURVE handshake works with the right server key and fails with another.
    @Test func aClientNeedsTheServersKey() throws {
        let server = try CurveKeyPair.generate()
        let zmq = ZMQContext()
        let router = try ZMQSocket(zmq, .router)
        try router.makeCurveServer(server)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(try Self.reaches(router, endpoint, zmq, CurveClientSecurity(serverKey: server.publicKey)))
        #expect(try !Self.reaches(router, endpoint, zmq, CurveClientSecurity(serverKey: try CurveKeyPair.generate().publicKey)))
        #expect(try !Self.reaches(router, endpoint, zmq, nil))
    }

    /// The ZAP handler admits listed client keys only, and CURVE only.
    @Test func theAuthenticatorAdmitsListedKeysOnly() throws {
        let server = try CurveKeyPair.generate(), listed = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let zmq = ZMQContext()
        let auth = CurveAuthenticator(context: zmq, authorized: [listed.publicKey])
        try auth.start()
        defer { auth.stop() }
        let router = try ZMQSocket(zmq, .router)
        try router.makeCurveServer(server)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(try Self.reaches(router, endpoint, zmq, CurveClientSecurity(serverKey: server.publicKey, keys: listed)))
        #expect(try !Self.reaches(router, endpoint, zmq, CurveClientSecurity(serverKey: server.publicKey, keys: stranger)))
        #expect(auth.refused.contains(stranger.publicKey))
    }
}
