import FarmCore
import FarmMedia
import Foundation
import Testing

@Suite struct ChunkInfoTests {
    static let format = OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48_000, channels: 2)

    static func chunk(frames: Range<Int> = 0 ..< 13) throws -> EncodedChunk {
        _ = quietFFmpeg
        return try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: frames), format: format)
    }

    static func reason(of chunk: EncodedChunk) -> String? {
        do {
            _ = try ChunkInfo.parse(chunk)
            return nil
        } catch let MediaError.corruptChunk(reason) {
            return reason
        } catch {
            return "unexpected error \(error)"
        }
    }

    @Test func parsesWhatTheEncoderWrote() throws {
        let info = try ChunkInfo.parse(Self.chunk())
        #expect(info.width == 320 && info.height == 192)
        #expect(info.fps == Rational(24))
        #expect(info.frameCount == 13)
        #expect(info.packets.count == 13)
        #expect(info.packets.first?.isKeyframe == true)
        #expect(info.packets.first?.pts == 0)
        #expect(Set(info.packets.map(\.pts)) == Set(0 ..< 13))
        #expect(zip(info.packets, info.packets.dropFirst()).allSatisfy { $0.dts < $1.dts })
        // The veryfast preset reorders frames: some packet decodes before it is shown.
        #expect(info.packets.contains { $0.dts < $0.pts })
        // SPS (type 7) and PPS (type 8) behind Annex B start codes.
        let extradata = [UInt8](info.extradata)
        #expect(extradata.starts(with: [0, 0, 0, 1]))
        #expect(extradata.contains(0x67) && extradata.contains(0x68))
    }

    @Test(arguments: [0, 10, 39, 45, 300, -1, -3])
    func truncatedChunkIsRefused(cut: Int) throws {
        let whole = try Self.chunk()
        let length = cut >= 0 ? cut : whole.data.count + cut
        let reason = Self.reason(of: EncodedChunk(data: whole.data.prefix(length)))
        #expect(reason?.contains("truncated") == true, "cut to \(length) bytes: \(reason ?? "accepted")")
    }

    @Test func damagedPayloadFailsTheChecksum() throws {
        var data = try Self.chunk().data
        data[data.count / 2] ^= 0x10
        let reason = Self.reason(of: EncodedChunk(data: data))
        #expect(reason?.contains("checksum mismatch") == true, "\(reason ?? "accepted")")
    }

    @Test func foreignBytesAreNotAChunk() throws {
        var data = try Self.chunk().data
        data.replaceSubrange(0 ..< 4, with: Array("ftyp".utf8))
        #expect(Self.reason(of: EncodedChunk(data: data))?.contains("not a reelfarm chunk") == true)
        #expect(Self.reason(of: EncodedChunk(data: Data(count: 100)))?.contains("magic") == true)
    }

    @Test func newerVersionIsNamed() throws {
        var data = try Self.chunk().data
        data[4] = 9
        #expect(Self.reason(of: EncodedChunk(data: data))?.contains("version 9") == true)
    }

    @Test func trailingGarbageIsRefused() throws {
        var data = try Self.chunk().data
        data.append(contentsOf: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Self.reason(of: EncodedChunk(data: data))?.contains("unexpected bytes") == true)
    }
}
