import CFFmpeg
import FarmCore
import Foundation

/// Byte offsets and constants of chunk format version 1 (`ChunkFormat.md`), shared by writer and parser.
enum ChunkLayout {
    /// `"RFCK"`.
    static let magic: [UInt8] = [0x52, 0x46, 0x43, 0x4B]
    static let version: UInt16 = 1
    /// Codec 1: H.264, Annex B packets, Annex B SPS/PPS in the extradata.
    static let codecH264: UInt16 = 1
    /// Magic through extradata size, before the extradata bytes.
    static let headerSize = 36
    static let packetCountOffset = 28
    /// pts, dts, flags, size.
    static let packetHeaderSize = 24
    static let trailerSize = 4
    static let keyframeFlag: UInt32 = 1
}

/// CRC-32 (zlib's) of `bytes`.
func chunkChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    return CFFmpeg_crc32(0, base.assumingMemoryBound(to: UInt8.self), bytes.count)
}

/// Builds one chunk: header, then packets as the encoder hands them out, then the checksum.
struct ChunkWriter {
    private var data: Data
    private var packetCount: UInt32 = 0

    /// - Precondition: every value fits its 32-bit field (the encoder checked the frame size and rate).
    init(width: Int, height: Int, fps: Rational, frameCount: Int, extradata: UnsafeRawBufferPointer,
         expectedPayload: Int) {
        data = Data(capacity: ChunkLayout.headerSize + extradata.count + expectedPayload
                    + frameCount * ChunkLayout.packetHeaderSize + ChunkLayout.trailerSize)
        data.append(contentsOf: ChunkLayout.magic)
        append(ChunkLayout.version)
        append(ChunkLayout.codecH264)
        append(UInt32(width))
        append(UInt32(height))
        append(UInt32(fps.numerator))
        append(UInt32(fps.denominator))
        append(UInt32(frameCount))
        append(UInt32(0))  // packet count, patched in finish()
        append(UInt32(extradata.count))
        append(bytes: extradata)
    }

    /// Appends one packet; `pts` and `dts` count frames from the chunk's first frame.
    mutating func appendPacket(pts: Int64, dts: Int64, keyframe: Bool, bytes: UnsafeRawBufferPointer) {
        append(pts)
        append(dts)
        append(keyframe ? ChunkLayout.keyframeFlag : 0)
        append(UInt32(bytes.count))
        append(bytes: bytes)
        packetCount += 1
    }

    /// The finished chunk, packet count filled in and checksum appended.
    mutating func finish() -> Data {
        withUnsafeBytes(of: packetCount.littleEndian) { count in
            data.replaceSubrange(ChunkLayout.packetCountOffset ..< ChunkLayout.packetCountOffset + 4, with: count)
        }
        let crc = data.withUnsafeBytes { chunkChecksum($0) }
        append(crc)
        return data
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { append(bytes: $0) }
    }

    private mutating func append(bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        data.append(base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
    }
}
