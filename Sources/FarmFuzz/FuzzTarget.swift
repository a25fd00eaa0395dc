import FarmCore
import FarmEngineHost
import FarmInference
import FarmMedia
import FarmWire
import Foundation

/// One parser that reads network or file input, driven with arbitrary bytes: it must return or throw, never trap.
enum FuzzTarget: String, CaseIterable {
    case wire, storyboard, chunk, safetensors, latents, pcm, engine, http

    /// Feeds `bytes` to the parser; every error it throws is an acceptable answer.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .wire: WireInput.run(bytes)
        case .http: HTTPInput.run(bytes)
        case .storyboard:
            // The coordinator receives storyboards as JSON strings; a file's non-UTF-8 bytes are repaired the same way.
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? JobSpec.parse(text, source: "fuzz")
        case .chunk:
            _ = try? ChunkInfo.parse(EncodedChunk(data: Data(bytes)))
            // Most mutations break the checksum; parse them again with a matching one to reach the checks behind it.
            _ = try? ChunkInfo.parse(EncodedChunk(data: CRC32.withTrailer(bytes)))
        case .safetensors:
            if let file = try? SafetensorsFile(bytes: Data(bytes), path: "fuzz.safetensors") {
                // Reading a tensor touches the byte ranges the header claims: they must lie inside the file.
                for name in file.entries.keys.sorted().prefix(4) { _ = try? file.floats(name) }
            }
        case .latents:
            _ = try? LatentsCodec.decode(Data(bytes))
        case .engine:
            // What an engine process sends a worker (ENGINES.md).
            EngineInput.run(bytes)
        case .pcm:
            // Byte 0 below 0x80 is the channel count; from 0x80 the next eight bytes are (any Int, hostile too).
            guard let first = bytes.first else { return }
            if first < 0x80 {
                _ = try? PCMCodec.decode(Data(bytes.dropFirst()), channels: Int(first))
            } else if bytes.count >= 9 {
                let channels = bytes[1 ..< 9].reversed().reduce(0) { $0 << 8 | Int($1) }
                _ = try? PCMCodec.decode(Data(bytes.dropFirst(9)), channels: channels)
            }
        }
    }
}

/// zlib's CRC-32, to give mutated chunks a valid trailer.
enum CRC32 {
    static let table: [UInt32] = (0 ..< 256).map { n in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// `bytes` with its last four bytes replaced by the CRC-32 of the rest (when there are more than four).
    static func withTrailer(_ bytes: [UInt8]) -> Data {
        guard bytes.count > 4 else { return Data(bytes) }
        var out = bytes
        let crc = checksum(bytes[..<(bytes.count - 4)])
        for i in 0 ..< 4 { out[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        return Data(out)
    }
}
