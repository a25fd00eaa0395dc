import FarmCore
import Foundation

/// One message of the engine-process contract (ENGINES.md): a kind, a JSON object and binary blobs.
public struct EngineMessage: Sendable {
    /// The contract's message kinds.
    public enum Kind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case ready = 1, segment, anchors, progress, result, failed, cancel, cancelled, shutdown

        public var description: String {
            switch self {
            case .ready: "ready"
            case .segment: "segment"
            case .anchors: "anchors"
            case .progress: "progress"
            case .result: "result"
            case .failed: "failed"
            case .cancel: "cancel"
            case .cancelled: "cancelled"
            case .shutdown: "shutdown"
            }
        }
    }

    public static let magic: [UInt8] = Array("RFEP".utf8)
    public static let contractVersion: UInt8 = 1
    public static let headerSize = 16
    public static let maxMetaBytes = 16 << 20
    public static let maxBlobs = 4_096
    public static let maxBlobBytes: UInt64 = 16 << 30

    public var kind: Kind
    public var meta: Data
    public var blobs: [Data]

    public init(_ kind: Kind, meta: Data = Data("{}".utf8), blobs: [Data] = []) {
        self.kind = kind
        self.meta = meta
        self.blobs = blobs
    }

    /// A message whose metadata is `payload` as JSON (snake_case keys).
    public init<P: Encodable>(_ kind: Kind, _ payload: P, blobs: [Data] = []) {
        self.init(kind, meta: EngineJSON.encode(payload), blobs: blobs)
    }

    /// The metadata decoded as `P`.
    /// - Throws: ``EngineContractError`` naming the kind and what failed to decode.
    public func payload<P: Decodable>(_ type: P.Type) throws(EngineContractError) -> P {
        do {
            return try EngineJSON.decoder.decode(P.self, from: meta)
        } catch {
            throw EngineContractError("\(kind) metadata does not decode: \(error)")
        }
    }

    /// The fixed header for metadata of `metaCount` bytes and `blobCount` blobs.
    static func header(kind: Kind, metaCount: Int, blobCount: Int) -> [UInt8] {
        var h = magic + [contractVersion, kind.rawValue, 0, 0]
        withUnsafeBytes(of: UInt32(metaCount).littleEndian) { h += $0 }
        withUnsafeBytes(of: UInt32(blobCount).littleEndian) { h += $0 }
        return h
    }

    /// Parses a 16-byte header: (kind, metadata length, blob count).
    /// - Throws: ``EngineContractError`` on a bad magic, version or kind, or sizes past the contract's limits.
    static func parseHeader(_ h: [UInt8]) throws(EngineContractError) -> (Kind, Int, Int) {
        guard h.count == headerSize, Array(h[0..<4]) == magic else {
            throw EngineContractError("message does not start with RFEP (got \(h.prefix(4).map { String(format: "%02x", $0) }.joined()))")
        }
        guard h[4] == contractVersion else { throw EngineContractError("contract version \(h[4]), this side speaks \(contractVersion)") }
        guard let kind = Kind(rawValue: h[5]) else { throw EngineContractError("unknown message kind \(h[5])") }
        let m = Int(UInt32(h[8]) | UInt32(h[9]) << 8 | UInt32(h[10]) << 16 | UInt32(h[11]) << 24)
        let b = Int(UInt32(h[12]) | UInt32(h[13]) << 8 | UInt32(h[14]) << 16 | UInt32(h[15]) << 24)
        guard m <= maxMetaBytes else { throw EngineContractError("\(kind) metadata of \(m) bytes exceeds \(maxMetaBytes)") }
        guard b <= maxBlobs else { throw EngineContractError("\(kind) carries \(b) blobs, more than \(maxBlobs)") }
        return (kind, m, b)
    }
}

extension EngineMessage {
    /// Parses one whole message from `data` with the limits ``EngineChannel`` applies (for tests and the fuzzer; the
    /// worker reads from a pipe).
    /// - Throws: ``EngineContractError`` naming what is wrong, including trailing bytes.
    public static func decode(_ data: Data, maxBytes: Int = 1 << 30) throws(EngineContractError) -> EngineMessage {
        var r = ByteReader(data)
        guard let head = r.take(headerSize) else { throw EngineContractError("message shorter than its 16-byte header") }
        let (kind, metaCount, blobCount) = try parseHeader([UInt8](head))
        guard let meta = r.take(metaCount) else { throw EngineContractError("\(kind) metadata is truncated") }
        var blobs: [Data] = []
        var total = 0
        for i in 0..<blobCount {
            guard let size = r.take(8) else { throw EngineContractError("\(kind) blob \(i) length is truncated") }
            let n = size.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard n <= maxBlobBytes, Int(n) <= maxBytes - total, let blob = r.take(Int(n)) else {
                throw EngineContractError("\(kind) blob \(i) of \(n) bytes is truncated or past the limit")
            }
            total += Int(n)
            blobs.append(Data(blob))
        }
        guard r.remaining == 0 else { throw EngineContractError("\(r.remaining) bytes after the message") }
        return EngineMessage(kind, meta: Data(meta), blobs: blobs)
    }

    /// The message as it goes down the pipe.
    public var bytes: Data {
        var out = Data(Self.header(kind: kind, metaCount: meta.count, blobCount: blobs.count))
        out += meta
        for blob in blobs {
            withUnsafeBytes(of: UInt64(blob.count).littleEndian) { out.append(contentsOf: $0) }
            out += blob
        }
        return out
    }
}

/// A peer broke the engine-process contract (framing, kind, metadata, a result that does not fit its task).
public struct EngineContractError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// JSON conventions of the contract: snake_case keys, sorted.
enum EngineJSON {
    static func encode<P: Encodable>(_ payload: P) -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail.
        return (try? e.encode(payload)) ?? Data("{}".utf8)
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
