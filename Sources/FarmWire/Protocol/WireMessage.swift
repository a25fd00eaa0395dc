import Foundation

/// One protocol message: a command, JSON metadata and binary blobs (tensors, media).
///
/// On the wire it is a multipart ZeroMQ message: an 8-byte header frame (`"RF"`, version, command, UInt32
/// little-endian sequence number), one JSON frame, then zero or more blob frames. A ROUTER socket adds the
/// peer's identity frame in front.
public struct WireMessage: Sendable, Equatable {
    public static let version: UInt8 = 1
    public static let headerSize = 8
    /// Largest whole message (all frames) reelfarm accepts.
    public static let maxMessageBytes = 8 << 20
    /// Largest blob piece senders put in one message.
    public static let pieceBytes = 1 << 20

    public var command: Command
    /// Matches a reply to its request (clients) or orders messages (workers).
    public var sequence: UInt32
    public var meta: Data
    public var blobs: [Data]

    public init(command: Command, sequence: UInt32 = 0, meta: Data = Data("{}".utf8), blobs: [Data] = []) {
        self.command = command
        self.sequence = sequence
        self.meta = meta
        self.blobs = blobs
    }

    /// Builds a message whose metadata is `payload` as JSON.
    public init<P: Encodable>(_ command: Command, _ payload: P, sequence: UInt32 = 0, blobs: [Data] = []) {
        self.init(command: command, sequence: sequence, meta: WireJSON.encode(payload), blobs: blobs)
    }

    /// Decodes the metadata as `P`.
    public func payload<P: Decodable>(_ type: P.Type) throws(WireError) -> P {
        if let fast = P.self as? any WireReadable.Type {
            let value = try WireValue.parse(meta)
            let decoded: any WireReadable
            do {
                decoded = try fast.init(wire: value)
            } catch {
                throw WireError(.badPayload, "\(command) metadata does not decode as \(P.self): \(error.message)")
            }
            guard let payload = decoded as? P else { throw WireError(.badPayload, "\(command) metadata is not \(P.self)") }
            return payload
        }
        do {
            return try WireJSON.decoder.decode(P.self, from: meta)
        } catch {
            throw WireError(.badPayload, "\(command) metadata does not decode as \(P.self): \(error)")
        }
    }

    /// The frames to send.
    public var frames: [Data] {
        var header = Data([UInt8(ascii: "R"), UInt8(ascii: "F"), Self.version, command.rawValue, 0, 0, 0, 0])
        withUnsafeBytes(of: sequence.littleEndian) { header.replaceSubrange(4..<8, with: $0) }
        return [header, meta] + blobs
    }

    /// Parses received frames (without any ROUTER identity frame).
    /// - Throws: ``WireError`` naming what is wrong: size, header, version, command.
    public init(frames: [Data]) throws(WireError) {
        let total = frames.reduce(0) { $0 + $1.count }
        guard total <= Self.maxMessageBytes else {
            throw WireError(.tooLarge, "message of \(total) bytes exceeds the limit of \(Self.maxMessageBytes)")
        }
        guard frames.count >= 2 else { throw WireError(.malformed, "message has \(frames.count) frames, needs header and metadata") }
        let h = [UInt8](frames[0])
        guard h.count == Self.headerSize, h[0] == UInt8(ascii: "R"), h[1] == UInt8(ascii: "F") else {
            throw WireError(.malformed, "header frame is not an 8-byte reelfarm header")
        }
        guard h[2] == Self.version else { throw WireError(.badVersion, "protocol version \(h[2]), this side speaks \(Self.version)") }
        guard let command = Command(rawValue: h[3]) else { throw WireError(.unknownCommand, "unknown command \(h[3])") }
        self.command = command
        sequence = UInt32(h[4]) | UInt32(h[5]) << 8 | UInt32(h[6]) << 16 | UInt32(h[7]) << 24
        meta = frames[1]
        blobs = Array(frames.dropFirst(2))
    }
}

extension WireMessage {
    /// The metadata of a heartbeat that lists no lease, byte for byte as every sender encodes it.
    static let idleHeartbeatMeta = Data(#"{"running":[]}"#.utf8)

    /// The sequence number of `frames` (without any ROUTER identity frame) when they are exactly an idle worker's
    /// heartbeat: a reelfarm header of this version for `heartbeat`, and metadata byte for byte `{"running":[]}`, with
    /// no blob. `nil` for anything else, which then goes through ``init(frames:)`` and ``payload(_:)`` like any
    /// message: only bytes the full decoder reads as `Heartbeat(running: [])` are recognised here, so nothing is
    /// accepted that it would refuse.
    ///
    /// On a large farm this is nearly every message the coordinator receives (20 000 workers send 20 000 a second).
    public static func idleHeartbeatSequence<Frames: Collection<Data>>(_ frames: Frames) -> UInt32? {
        guard frames.count == 2, let header = frames.first, header.count == headerSize else { return nil }
        let meta = frames[frames.index(after: frames.startIndex)]
        guard meta == idleHeartbeatMeta else { return nil }
        return header.withUnsafeBytes { (h: UnsafeRawBufferPointer) -> UInt32? in
            guard h[0] == UInt8(ascii: "R"), h[1] == UInt8(ascii: "F"), h[2] == version, h[3] == Command.heartbeat.rawValue
            else { return nil }
            return UInt32(h[4]) | UInt32(h[5]) << 8 | UInt32(h[6]) << 16 | UInt32(h[7]) << 24
        }
    }
}

/// A message that could not be accepted.
public struct WireError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Why, as counted by the coordinator.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case malformed, badVersion = "bad-version", unknownCommand = "unknown-command", tooLarge = "too-large"
        case badPayload = "bad-payload", unexpected, stale, unknownPeer = "unknown-peer", invalid
        /// A worker's result whose outputs do not hold what its task asked for: the attempt fails.
        case badResult = "bad-result"

        /// A request that is well formed but cannot be satisfied (unknown job, cancel of a finished job): the
        /// client's mistake, counted apart from protocol refusals.
        public var isClientError: Bool { self == .invalid }
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The JSON conventions of the protocol: snake_case keys, sorted for stable bytes.
public enum WireJSON {
    // One encoder and decoder per thread: building them is a measurable share of a small message's cost.
    private static let encoderKey = "reelfarm.wire.encoder", decoderKey = "reelfarm.wire.decoder"

    public static func encode<P: Encodable>(_ payload: P) -> Data {
        let e = Thread.current.threadDictionary[encoderKey] as? JSONEncoder ?? {
            let e = JSONEncoder()
            e.keyEncodingStrategy = .convertToSnakeCase
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Thread.current.threadDictionary[encoderKey] = e
            return e
        }()
        return (try? e.encode(payload)) ?? Data("{}".utf8)
    }

    public static var decoder: JSONDecoder {
        if let d = Thread.current.threadDictionary[decoderKey] as? JSONDecoder { return d }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        Thread.current.threadDictionary[decoderKey] = d
        return d
    }
}
