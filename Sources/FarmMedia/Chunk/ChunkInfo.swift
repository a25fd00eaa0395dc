import FarmCore
import Foundation

/// One compressed frame of a chunk, located inside the chunk's bytes.
public struct ChunkPacket: Sendable, Equatable {
    /// Presentation time in frames from the chunk's first frame.
    public var pts: Int64
    /// Decode time in frames from the chunk's first frame; negative for the first packets when B-frames delay
    /// presentation.
    public var dts: Int64
    /// Whether the packet is an IDR frame (decoding can start here).
    public var isKeyframe: Bool
    /// Where the packet's bytes lie, as offsets from the start of the chunk's `data`.
    public var byteRange: Range<Int>
}

/// What a chunk holds, read from its bytes by ``parse(_:)`` (format: `FarmMedia/ChunkFormat.md`).
public struct ChunkInfo: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fps: Rational
    public var frameCount: Int
    /// The codec's global header (H.264 SPS and PPS, Annex B); chunks of one film must carry identical bytes.
    public var extradata: Data
    /// Every packet in decode order.
    public var packets: [ChunkPacket]

    /// Reads and checks a chunk: structure, checksum, and that its timestamps describe each frame exactly once.
    /// - Throws: ``MediaError/corruptChunk(reason:)`` naming the field that is wrong.
    public static func parse(_ chunk: EncodedChunk) throws -> ChunkInfo {
        try parse(chunk, verifyingChecksum: true)
    }

    /// ``parse(_:)``, optionally leaving the checksum (the only step that reads every byte) to
    /// ``verifyChecksum(_:)``.
    static func parse(_ chunk: EncodedChunk, verifyingChecksum: Bool) throws -> ChunkInfo {
        let info = try chunk.data.withUnsafeBytes { try parse(bytes: $0, verifyingChecksum: verifyingChecksum) }
        try info.checkTimestamps()
        return info
    }

    /// Checks the CRC-32 trailer of a chunk whose structure ``parse(_:verifyingChecksum:)`` accepted.
    /// - Throws: ``MediaError/corruptChunk(reason:)`` when the bytes do not match it.
    static func verifyChecksum(_ chunk: EncodedChunk) throws {
        try chunk.data.withUnsafeBytes { try verifyChecksum(bytes: $0) }
    }

    private static func verifyChecksum(bytes: UnsafeRawBufferPointer) throws {
        let end = bytes.count - ChunkLayout.trailerSize
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: end, as: UInt32.self))
        let computed = chunkChecksum(UnsafeRawBufferPointer(rebasing: bytes[0 ..< end]))
        guard stored == computed else {
            throw corrupt("checksum mismatch: stored crc32 \(hex(stored)), bytes give \(hex(computed)) (data damaged)")
        }
    }

    private static func parse(bytes: UnsafeRawBufferPointer, verifyingChecksum: Bool) throws -> ChunkInfo {
        let minimum = ChunkLayout.headerSize + ChunkLayout.trailerSize
        guard bytes.count >= minimum else {
            throw corrupt("truncated: \(bytes.count) bytes, shorter than the \(minimum)-byte minimum")
        }
        var reader = ChunkReader(bytes: bytes, end: bytes.count - ChunkLayout.trailerSize)
        let magic = [UInt8](bytes[0 ..< 4])
        guard magic == ChunkLayout.magic else {
            throw corrupt("magic is \(magic.map { String(format: "%02x", $0) }.joined()), expected 5246434b "
                          + "(\"RFCK\"): not a reelfarm chunk")
        }
        reader.offset = 4
        let version: UInt16 = reader.read()
        guard version == ChunkLayout.version else {
            throw corrupt("format version \(version) is not supported (this build reads \(ChunkLayout.version))")
        }
        let codec: UInt16 = reader.read()
        guard codec == ChunkLayout.codecH264 else { throw corrupt("codec \(codec) is unknown (1 = H.264)") }
        let width = Int(reader.read() as UInt32)
        let height = Int(reader.read() as UInt32)
        let fpsNumerator = Int64(reader.read() as UInt32)
        let fpsDenominator = Int64(reader.read() as UInt32)
        let frameCount = Int(reader.read() as UInt32)
        let packetCount = Int(reader.read() as UInt32)
        let extradataSize = Int(reader.read() as UInt32)
        guard width > 0, height > 0 else { throw corrupt("frame size \(width)x\(height) is empty") }
        guard fpsNumerator > 0, fpsDenominator > 0 else {
            throw corrupt("frame rate \(fpsNumerator)/\(fpsDenominator) is not positive")
        }
        guard frameCount > 0 else { throw corrupt("frame count is 0") }
        guard packetCount == frameCount else {
            throw corrupt("packet count \(packetCount) differs from frame count \(frameCount)")
        }
        guard extradataSize <= reader.remaining else {
            throw corrupt("truncated: extradata of \(extradataSize) bytes at offset \(reader.offset), "
                          + "only \(reader.remaining) bytes remain")
        }
        let extradata = Data(bytes[reader.offset ..< reader.offset + extradataSize])
        reader.offset += extradataSize
        guard packetCount <= reader.remaining / ChunkLayout.packetHeaderSize else {
            throw corrupt("truncated: \(packetCount) packets cannot fit in the \(reader.remaining) bytes left")
        }
        var packets: [ChunkPacket] = []
        packets.reserveCapacity(packetCount)
        for index in 0 ..< packetCount {
            guard reader.remaining >= ChunkLayout.packetHeaderSize else {
                throw corrupt("truncated: packet \(index) of \(packetCount) header at offset \(reader.offset), "
                              + "only \(reader.remaining) bytes remain")
            }
            let pts: Int64 = reader.read()
            let dts: Int64 = reader.read()
            let flags: UInt32 = reader.read()
            let size = Int(reader.read() as UInt32)
            guard flags & ~ChunkLayout.keyframeFlag == 0 else {
                throw corrupt("packet \(index) has unknown flags 0x\(String(flags, radix: 16))")
            }
            guard size > 0 else { throw corrupt("packet \(index) is empty") }
            guard size <= reader.remaining else {
                throw corrupt("truncated: packet \(index) of \(packetCount) needs \(size) bytes at offset "
                              + "\(reader.offset), only \(reader.remaining) remain")
            }
            packets.append(ChunkPacket(pts: pts, dts: dts, isKeyframe: flags & ChunkLayout.keyframeFlag != 0,
                                       byteRange: reader.offset ..< reader.offset + size))
            reader.offset += size
        }
        guard reader.remaining == 0 else {
            throw corrupt("\(reader.remaining) unexpected bytes after the last packet at offset \(reader.offset)")
        }
        let info = ChunkInfo(width: width, height: height, fps: Rational(fpsNumerator, fpsDenominator),
                             frameCount: frameCount, extradata: extradata, packets: packets)
        if verifyingChecksum {
            try verifyChecksum(bytes: bytes)
        }
        return info
    }

    /// Every frame presented exactly once, decode order starting at an IDR frame, dts rising and never after pts.
    private func checkTimestamps() throws {
        guard let first = packets.first, first.isKeyframe else {
            throw Self.corrupt("packet 0 is not a keyframe; a chunk must open with an IDR frame")
        }
        var seen = [Bool](repeating: false, count: frameCount)
        var previousDTS = Int64.min
        for (index, packet) in packets.enumerated() {
            guard packet.pts >= 0, packet.pts < Int64(frameCount) else {
                throw Self.corrupt("packet \(index) has pts \(packet.pts) outside [0, \(frameCount))")
            }
            guard !seen[Int(packet.pts)] else {
                throw Self.corrupt("packet \(index) repeats pts \(packet.pts)")
            }
            seen[Int(packet.pts)] = true
            guard packet.dts > previousDTS, packet.dts <= packet.pts else {
                throw Self.corrupt("packet \(index) has dts \(packet.dts): not after the previous dts "
                                   + "\(previousDTS) or after its pts \(packet.pts)")
            }
            previousDTS = packet.dts
        }
    }

    private static func corrupt(_ reason: String) -> MediaError { .corruptChunk(reason: reason) }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// Little-endian reads from a chunk's bytes; callers check `remaining` first.
private struct ChunkReader {
    let bytes: UnsafeRawBufferPointer
    /// Where the packets must end: the trailer's offset.
    let end: Int
    var offset = 0

    var remaining: Int { end - offset }

    mutating func read<T: FixedWidthInteger>() -> T {
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }
}
