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

    /// Reads every chunk once and checks its structure; the checksums, which read every byte, are left to
    /// ``checkedChunk(_:of:)`` as each chunk is muxed.
    /// - Throws: ``MediaError/chunkRefused(index:reason:)`` for the first chunk that is corrupt or differs from
    ///   `format` or from chunk 0; ``MediaError/invalidInput(_:)`` when there are no chunks.
    init(parts: some FilmParts, format: OutputFormat) throws {
        guard parts.chunkCount > 0 else { throw MediaError.invalidInput("a film needs at least one chunk") }
        var infos: [ChunkInfo] = []
        infos.reserveCapacity(parts.chunkCount)
        var offsets: [Int64] = []
        offsets.reserveCapacity(parts.chunkCount)
        var total: Int64 = 0
        var delay: Int64 = 0
        for index in 0 ..< parts.chunkCount {
            let info = try Self.parse(try Self.read(index, of: parts), index: index, verifyingChecksum: false)
            try Self.check(info, index: index, format: format, first: infos.first)
            delay = max(delay, Self.decodeDelay(of: info))
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

    /// Chunk `index` read again for muxing, with its CRC-32 checked and its structure the same as when the sequence
    /// was built.
    /// - Throws: ``MediaError/chunkRefused(index:reason:)`` when it is damaged or changed since.
    func checkedChunk(_ index: Int, of parts: some FilmParts) throws -> EncodedChunk {
        let chunk = try Self.read(index, of: parts)
        guard try Self.parse(chunk, index: index, verifyingChecksum: true) == infos[index] else {
            throw MediaError.chunkRefused(index: index, reason: "changed while the film was being assembled")
        }
        return chunk
    }

    /// How many frames decoding runs ahead of presentation in one chunk: the largest `j − pts` of its packets.
    static func decodeDelay(of info: ChunkInfo) -> Int64 {
        info.packets.enumerated().reduce(0) { max($0, Int64($1.offset) - $1.element.pts) }
    }

    static func read(_ index: Int, of parts: some FilmParts) throws -> EncodedChunk {
        do {
            return try parts.chunk(index)
        } catch {
            throw MediaError.chunkRefused(index: index, reason: "cannot be read: \(error)")
        }
    }

    static func parse(_ chunk: EncodedChunk, index: Int, verifyingChecksum: Bool) throws -> ChunkInfo {
        do {
            return try ChunkInfo.parse(chunk, verifyingChecksum: verifyingChecksum)
        } catch let MediaError.corruptChunk(reason) {
            throw MediaError.chunkRefused(index: index, reason: "corrupt: \(reason)")
        }
    }

    /// Film-wide (pts, dts) in frames of packet `position` (decode order) of chunk `chunk`.
    func timestamps(chunk: Int, position: Int) -> (pts: Int64, dts: Int64) {
        let offset = frameOffsets[chunk]
        return (offset + infos[chunk].packets[position].pts, offset + Int64(position) - decodeDelay)
    }

    /// Checks a chunk against the film's format and chunk 0 (`first`; `nil` for chunk 0 itself).
    static func check(_ info: ChunkInfo, index: Int, format: OutputFormat, first: ChunkInfo?) throws {
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
