import CZeroMQ
import Foundation

/// A CURVE key pair (ZeroMQ's CurveZMQ: Curve25519 keys), each key as 40 characters of Z85 text.
///
/// The coordinator's pair encrypts its endpoint and proves who it is; a peer that knows the coordinator's public
/// key can talk to it, everything else fails the handshake inside libzmq and never reaches the loop. A worker or
/// client may have a pair of its own so the coordinator can admit only listed keys (``CurveAuthenticator``).
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A new random pair.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        try zmqCheck(zmq_curve_keypair(&pub, &sec), "zmq_curve_keypair (is libzmq built with CURVE?)")
        return CurveKeyPair(publicKey: Self.string(pub), secretKey: Self.string(sec))
    }

    /// The pair whose secret key is `secretKey`.
    /// - Throws: ``CurveKeyError`` when it is not a Z85 key.
    public init(secretKey: String) throws {
        guard Self.isKey(secretKey) else { throw CurveKeyError("not a CURVE secret key (40 characters of Z85 text)") }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { throw CurveKeyError("libzmq cannot derive a public key") }
        self.init(publicKey: Self.string(pub), secretKey: secretKey)
    }

    /// Whether `text` is a key: 40 characters of Z85 that decode to 32 bytes.
    public static func isKey(_ text: String) -> Bool {
        guard text.utf8.count == 40 else { return false }
        var bytes = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&bytes, text) != nil
    }

    /// Z85 text of a 32-byte binary key (as ZAP hands client keys over).
    static func z85(_ key: Data) -> String? {
        guard key.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        let ok = key.withUnsafeBytes { zmq_z85_encode(&out, $0.bindMemory(to: UInt8.self).baseAddress, 32) } != nil
        return ok ? string(out) : nil
    }

    private static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Key files

    /// Reads a key file: the first line that is not blank or a `#` comment.
    /// - Throws: ``CurveKeyError`` naming the file when it cannot be read or holds no key.
    public static func readKey(_ url: URL) throws -> String {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw CurveKeyError("\(url.path): cannot be read") }
        let keys = keyLines(text)
        guard let key = keys.first, isKey(key) else { throw CurveKeyError("\(url.path): holds no CURVE key (40 characters of Z85)") }
        return key
    }

    /// The keys in an authorized-keys text: one per line, blank lines and `#` comments skipped.
    public static func keyLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// `key` itself when it is a key, else the key in the file at that path.
    public static func keyOrFile(_ key: String) throws -> String {
        isKey(key) ? key : try readKey(URL(fileURLWithPath: key))
    }

    /// Writes `NAME.key` (the secret, readable by its owner only) and `NAME.pub` (the public key to hand out).
    public func write(to base: URL) throws {
        let secret = base.appendingPathExtension("key"), pub = base.appendingPathExtension("pub")
        try FileManager.default.createDirectory(at: base.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: secret.path, contents: nil, attributes: [.posixPermissions: 0o600])
        try Data("# reelfarm CURVE secret key: keep it private\n\(secretKey)\n".utf8).write(to: secret)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secret.path)
        try Data("\(publicKey)\n".utf8).write(to: pub)
    }

    /// The pair stored at `base` (`NAME.key`), created there first if there is none.
    public static func loadOrCreate(at base: URL) throws -> CurveKeyPair {
        let secret = base.appendingPathExtension("key")
        if FileManager.default.fileExists(atPath: secret.path) { return try CurveKeyPair(secretKey: try readKey(secret)) }
        let pair = try generate()
        try pair.write(to: base)
        return pair
    }
}

/// A key or key file that cannot be used, with what and where.
public struct CurveKeyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ZMQSocket {
    /// Makes this (bound) socket a CURVE server with `keys`; set before `bind`.
    public func makeCurveServer(_ keys: CurveKeyPair) throws(ZMQError) {
        var on: Int32 = 1
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_CURVE_SERVER, &on, MemoryLayout<Int32>.size), "zmq_setsockopt(CURVE_SERVER)")
        try setText(ZMQ_CURVE_SECRETKEY, keys.secretKey, "CURVE_SECRETKEY")
        try setText(ZMQ_ZAP_DOMAIN, "reelfarm", "ZAP_DOMAIN")
    }

    /// Makes this (connecting) socket a CURVE client of the server whose public key is `serverKey`; set before
    /// `connect`.
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        try setText(ZMQ_CURVE_SERVERKEY, serverKey, "CURVE_SERVERKEY")
        try setText(ZMQ_CURVE_PUBLICKEY, keys.publicKey, "CURVE_PUBLICKEY")
        try setText(ZMQ_CURVE_SECRETKEY, keys.secretKey, "CURVE_SECRETKEY")
    }

    private func setText(_ option: Int32, _ text: String, _ name: String) throws(ZMQError) {
        let bytes = Array(text.utf8)
        try zmqCheck(zmq_setsockopt(try socket, option, bytes, bytes.count), "zmq_setsockopt(\(name))")
    }
}

/// The security a peer's socket uses towards the coordinator: plain, or CURVE with the coordinator's public key
/// (and this peer's own pair, fresh for each socket unless given).
public struct CurveClientSecurity: Sendable, Equatable {
    public var serverKey: String
    public var keys: CurveKeyPair?

    public init(serverKey: String, keys: CurveKeyPair? = nil) {
        self.serverKey = serverKey
        self.keys = keys
    }

    /// Applies it to a socket that has not connected yet.
    public func apply(to socket: ZMQSocket) throws {
        try socket.makeCurveClient(serverKey: serverKey, keys: try keys ?? CurveKeyPair.generate())
    }
}

/// ZeroMQ's authentication handler (ZAP, RFC 27) for the coordinator's socket: it admits, with CURVE, only the listed
/// client public keys (or any key when no list is given), and refuses every new peer while `admit` says the process
/// is short of descriptors (status 300, temporary: the peer retries later), so that the peers already connected keep
/// being served. One thread owns its REP socket on `inproc://zeromq.zap.01` of the server socket's context. The
/// server socket needs a ZAP domain (``ZMQSocket/setZAPDomain(_:)``) for peers without CURVE to be asked about.
public final class CurveAuthenticator: @unchecked Sendable {
    private let context: ZMQContext
    private let authorized: Set<String>?
    private let admit: @Sendable () -> Bool
    private let lock = NSLock()
    private var stopping = false
    private var refusedKeys: [String] = []
    private var unreported: [(key: String, address: String)] = []
    private var turnedAway = 0
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var startError: (any Error)?

    /// - Parameters:
    ///   - authorized: Z85 public keys allowed in; `nil` admits any peer (any key with CURVE).
    ///   - admit: whether a new peer may connect now (false while descriptors run short).
    public init(context: ZMQContext, authorized: Set<String>?, admit: @escaping @Sendable () -> Bool = { true }) {
        self.context = context
        self.authorized = authorized
        self.admit = admit
    }

    /// Peers turned away for want of descriptors since the last call.
    public func takeTurnedAway() -> Int {
        lock.withLock {
            defer { turnedAway = 0 }
            return turnedAway
        }
    }

    /// Binds the handler and starts answering; returns once it listens (before the server socket binds).
    public func start() throws {
        let thread = Thread { [self] in
            do {
                let socket = try ZMQSocket(context, .rep)
                try socket.bind("inproc://zeromq.zap.01")
                started.signal()
                while !lock.withLock({ stopping }) {
                    guard try socket.poll(milliseconds: 100), let request = try socket.receive(dontWait: true) else { continue }
                    try socket.send(answer(request))
                }
                socket.close()
            } catch {
                lock.withLock { startError = error }
                started.signal()
            }
            finished.signal()
        }
        thread.name = "reelfarm-zap"
        thread.start()
        started.wait()
        if let startError = lock.withLock({ startError }) { throw startError }
    }

    public func stop() {
        lock.withLock { stopping = true }
        finished.wait()
    }

    /// Client keys refused so far (Z85), for logs and tests.
    public var refused: [String] { lock.withLock { refusedKeys } }

    /// Refusals since the last call: the client's public key (Z85) and its address.
    public func takeRefusals() -> [(key: String, address: String)] {
        lock.withLock {
            defer { unreported.removeAll() }
            return unreported
        }
    }

    /// The reply to one ZAP request: version, request id, domain, address, routing id, mechanism, credentials.
    func answer(_ request: [Data]) -> [Data] {
        let version = Data("1.0".utf8)
        guard request.count >= 6, request[0] == version else {
            return [version, request.count > 1 ? request[1] : Data(), Data("500".utf8), Data("bad ZAP request".utf8), Data(), Data()]
        }
        let id = request[1], mechanism = String(decoding: request[5], as: UTF8.self)
        // (The request cannot tell a client from a worker: its identity frame is the server's own routing id.)
        guard admit() else {
            lock.withLock { turnedAway += 1 }
            return [version, id, Data("300".utf8), Data("too many peers: try again later".utf8), Data(), Data()]
        }
        guard let authorized else {
            // No list: whatever the mechanism already checked (the server key with CURVE; nothing with NULL) is enough.
            let key = mechanism == "CURVE" && request.count >= 7 ? CurveKeyPair.z85(request[6]) ?? "" : ""
            return [version, id, Data("200".utf8), Data("OK".utf8), Data(key.utf8), Data()]
        }
        guard mechanism == "CURVE", request.count >= 7, let key = CurveKeyPair.z85(request[6]) else {
            return [version, id, Data("400".utf8), Data("CURVE only".utf8), Data(), Data()]
        }
        guard authorized.contains(key) else {
            let address = String(decoding: request[3].prefix(64), as: UTF8.self)
            lock.withLock {
                if refusedKeys.count < 1_000 { refusedKeys.append(key) }
                if unreported.count < 1_000 { unreported.append((key, address)) }
            }
            return [version, id, Data("400".utf8), Data("key not authorized".utf8), Data(), Data()]
        }
        return [version, id, Data("200".utf8), Data("OK".utf8), Data(key.utf8), Data()]
    }
}
