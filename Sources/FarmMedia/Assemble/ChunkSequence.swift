import FarmCore
import Foundation

/// A film's chunks, parsed and checked against each other and the output format, with the film-wide timing.
///
/// Film-wide decode times come from decode order, not from each chunk's stored dts: packet `j` (decode order)
/// of chunk `k` decodes at `offset(k) + j − decodeDelay`, where `decodeDelay` is the largest `j − pts` of any
/// packet. That keeps dts strictly rising across joins and never after pts, even when chunks were encoded with
/// different B-frame delays (a one-frame chunk has none).
struct ChunkSequence {
    /// The parsed chunks, in film order.
    let infos: [ChunkInfo]
    /// Frames before chunk `k`.
    let frameOffsets: [Int64]
    let totalFrames: Int
    /// How many frames decoding runs ahead of presentation.
    let decodeDelay: Int64
    /// The SPS/PPS every chunk carries.
    let extradata: Data

    /// Checks every chunk's structure; the checksums, which read every byte, are left to
    /// ``verifyChecksums(of:)``.
    /// - Throws: ``MediaError/chunkRefused(index:reason:)`` for the first chunk that is corrupt or differs from
    ///   `format` or from chunk 0; ``MediaError/invalidInput(_:)`` when there are no chunks.
    init(chunks: [EncodedChunk], format: OutputFormat) throws {
        guard !chunks.isEmpty else { throw MediaError.invalidInput("a film needs at least one chunk") }
        var infos: [ChunkInfo] = []
        infos.reserveCapacity(chunks.count)
        var offsets: [Int64] = []
        offsets.reserveCapacity(chunks.count)
        var total: Int64 = 0
        var delay: Int64 = 0
        for (index, chunk) in chunks.enumerated() {
            let info: ChunkInfo
            do {
                info = try ChunkInfo.parse(chunk, verifyingChecksum: false)
            } catch let MediaError.corruptChunk(reason) {
                throw MediaError.chunkRefused(index: index, reason: "corrupt: \(reason)")
            }
            try Self.check(info, index: index, format: format, first: infos.first)
            for (position, packet) in info.packets.enumerated() {
                delay = max(delay, Int64(position) - packet.pts)
            }
            offsets.append(total)
            total += Int64(info.frameCount)
            infos.append(info)
        }
        self.infos = infos
        frameOffsets = offsets
        totalFrames = Int(total)
        decodeDelay = delay
        extradata = infos[0].extradata
    }

    /// Checks each chunk's CRC-32.
    /// - Throws: ``MediaError/chunkRefused(index:reason:)`` for the first damaged chunk.
    func verifyChecksums(of chunks: [EncodedChunk]) throws {
        for (index, chunk) in chunks.enumerated() {
            do {
                try ChunkInfo.verifyChecksum(chunk)
            } catch let MediaError.corruptChunk(reason) {
                throw MediaError.chunkRefused(index: index, reason: "corrupt: \(reason)")
            }
        }
    }

    /// Film-wide (pts, dts) in frames of packet `position` (decode order) of chunk `chunk`.
    func timestamps(chunk: Int, position: Int) -> (pts: Int64, dts: Int64) {
        let offset = frameOffsets[chunk]
        return (offset + infos[chunk].packets[position].pts, offset + Int64(position) - decodeDelay)
    }

    private static func check(_ info: ChunkInfo, index: Int, format: OutputFormat, first: ChunkInfo?) throws {
        func refuse(_ reason: String) -> MediaError { .chunkRefused(index: index, reason: reason) }
        guard info.width == format.width, info.height == format.height else {
            throw refuse("frame size \(info.width)x\(info.height) differs from the film's "
                         + "\(format.width)x\(format.height)")
        }
        guard info.fps == format.fps else {
            throw refuse("frame rate \(info.fps) fps differs from the film's \(format.fps) fps")
        }
        if let first, info.extradata != first.extradata {
            throw refuse("SPS/PPS (extradata, \(info.extradata.count) bytes) differ from chunk 0's "
                         + "(\(first.extradata.count) bytes): encoded with other settings")
        }
    }
}
