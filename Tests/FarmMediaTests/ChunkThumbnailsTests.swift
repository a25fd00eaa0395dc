import FarmCore
@testable import FarmMedia
import Foundation
import Testing

@Suite(.timeLimit(.minutes(3))) struct ChunkThumbnailsTests {
    static let format = OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48_000, channels: 2)

    /// A PNG's size from its IHDR chunk, read by hand (bytes 16–23, big-endian).
    static func size(ofPNG data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data)
        guard bytes.count > 24, bytes.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              bytes[12 ..< 16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        let be = { (at: Int) in bytes[at ..< at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }

    /// Mean of an image's bytes, decoded by FFmpeg's PNG decoder at its own size.
    static func mean(ofPNG data: Data, width: Int, height: Int) throws -> Double {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("thumb.png")
        try data.write(to: file)
        let image = try ImageDecoder.decode(file, width: width, height: height)
        return Double(image.rgb.reduce(0) { $0 + Int($1) }) / Double(image.rgb.count)
    }

    @Test func theFirstAndLastFramesComeBackSmallAndInTheirOrder() throws {
        _ = quietFFmpeg
        // Frames 5–17: gray levels 24 + 7·i, so the first is darker than the last by 84, far beyond coding noise.
        let chunk = try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: 5 ..< 18),
                                                  format: Self.format)
        let (first, last) = try ChunkThumbnails.make(chunk, width: 160)
        let firstSize = try #require(Self.size(ofPNG: first))
        let lastSize = try #require(Self.size(ofPNG: last))
        #expect(firstSize == (160, 96) && lastSize == (160, 96))
        // The square adds its boost over an eighth of the picture; compare with the frames' own means.
        func expected(_ i: Int) -> Double {
            Double(Fixture.brightness(ofFrame: i)) + Double(Fixture.squareBoost) * (48.0 * 48.0) / (320.0 * 192.0)
        }
        let firstMean = try Self.mean(ofPNG: first, width: 160, height: 96)
        let lastMean = try Self.mean(ofPNG: last, width: 160, height: 96)
        #expect(abs(firstMean - expected(5)) < 3, "first \(firstMean), expected \(expected(5))")
        #expect(abs(lastMean - expected(17)) < 3, "last \(lastMean), expected \(expected(17))")
    }

    @Test func neverWiderThanTheChunk() throws {
        _ = quietFFmpeg
        let chunk = try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: 0 ..< 3),
                                                  format: Self.format)
        let (first, _) = try ChunkThumbnails.make(chunk, width: 4_000)
        #expect(try #require(Self.size(ofPNG: first)) == (320, 192))
    }

    @Test func aDamagedChunkIsRefusedByName() throws {
        _ = quietFFmpeg
        var data = try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: 0 ..< 5),
                                                 format: Self.format).data
        data[data.count / 2] ^= 0xFF
        #expect {
            _ = try ChunkThumbnails.make(EncodedChunk(data: data))
        } throws: { error in
            if case MediaError.corruptChunk = error { return true }
            return false
        }
        #expect(throws: MediaError.self) { _ = try ChunkThumbnails.make(EncodedChunk(data: Data("RFCK".utf8))) }
    }
}
