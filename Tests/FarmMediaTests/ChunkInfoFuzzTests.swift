import FarmCore
import FarmMedia
import FarmTesting
import Foundation
import Testing

/// Chunks arrive from workers and from the artifact store: whatever their bytes, ``ChunkInfo/parse(_:)`` must
/// name what is wrong, never trap.
@Suite struct ChunkInfoFuzzTests {
    /// zlib's CRC-32, to give a mutated chunk a matching trailer so the checks behind the checksum are reached.
    static func withTrailer(_ bytes: [UInt8]) -> Data {
        guard bytes.count > 4 else { return Data(bytes) }
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes.dropLast(4) {
            c ^= UInt32(b)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        c ^= 0xFFFF_FFFF
        var out = bytes
        for i in 0 ..< 4 { out[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(i))) }
        return Data(out)
    }

    @Test func trailerHelperMatchesTheWriter() throws {
        let chunk = try ChunkInfoTests.chunk(frames: 0 ..< 3)
        #expect(Self.withTrailer(Array(chunk.data)) == chunk.data)
    }

    /// 10 000 mutations of a real chunk (edge values in size and count fields, cuts, splices), half of them with
    /// a matching checksum, parse or throw ``MediaError``; what parses has packets inside the bytes.
    @Test func mutatedChunksNeverTrap() throws {
        let good = Array(try ChunkInfoTests.chunk(frames: 0 ..< 3).data)
        var mutator = ByteMutator(seed: 0xC4C)
        var reachedTimestamps = 0
        for i in 0 ..< 10_000 {
            let bytes = mutator.mutate(good)
            let data = i % 2 == 0 ? Self.withTrailer(bytes) : Data(bytes)
            do {
                let info = try ChunkInfo.parse(EncodedChunk(data: data))
                #expect(info.packets.allSatisfy { $0.byteRange.upperBound <= data.count })
            } catch let MediaError.corruptChunk(reason) {
                if reason.contains("pts") || reason.contains("dts") || reason.contains("keyframe") { reachedTimestamps += 1 }
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(reachedTimestamps > 0, "no mutation got past the structure checks")
    }
}
