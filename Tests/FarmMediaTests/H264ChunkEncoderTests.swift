import FarmCore
@testable import FarmMedia
import Foundation
import Testing

@Suite struct H264ChunkEncoderTests {
    static let format = OutputFormat(width: 320, height: 192, fps: Rational(30000, 1001), sampleRate: 48_000,
                                     channels: 2)

    init() { _ = quietFFmpeg }

    @Test func sameFramesGiveIdenticalBytes() throws {
        let frames = Fixture.frames(width: 320, height: 192, range: 0 ..< 11)
        let first = try H264ChunkEncoder().encode(frames, format: Self.format)
        let second = try H264ChunkEncoder().encode(frames, format: Self.format)
        #expect(first == second)
        // ... and different frames do not, so the comparison above can fail.
        let other = try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: 1 ..< 12),
                                                  format: Self.format)
        #expect(other != first)
    }

    /// The chunk must not depend on the CPU: the bytes equal those of x264's plain C code (`asm=0`), which any
    /// machine can run. On this content x264's SSSE3+ code paths give different bytes, so this can fail.
    @Test func bytesMatchX264sCCode() throws {
        let frames = Fixture.texturedFrames(width: 320, height: 192, count: 12)
        let chunk = try H264ChunkEncoder().encode(frames, format: Self.format)
        var plainC = H264ChunkEncoder()
        plainC.x264Overrides = ":asm=0"
        #expect(try plainC.encode(frames, format: Self.format) == chunk)
    }

    @Test func chunksOfOneFilmShareTheirHeaders() throws {
        let short = try ChunkInfo.parse(H264ChunkEncoder().encode(
            Fixture.frames(width: 320, height: 192, range: 0 ..< 1), format: Self.format))
        let long = try ChunkInfo.parse(H264ChunkEncoder().encode(
            Fixture.frames(width: 320, height: 192, range: 0 ..< 25), format: Self.format))
        #expect(short.extradata == long.extradata)
        #expect(short.fps == Rational(30000, 1001))
    }

    @Test func framesOfAnotherSizeAreRefused() throws {
        let frames = Fixture.frames(width: 160, height: 96, range: 0 ..< 3)
        #expect(throws: MediaError.invalidInput("frames are 160x96, format says 320x192")) {
            try H264ChunkEncoder().encode(frames, format: Self.format)
        }
    }

    @Test func oddSizeIsRefused() throws {
        var format = Self.format
        format.width = 161
        format.height = 96
        let frames = VideoFrames(width: 161, height: 96, count: 2)
        #expect(throws: MediaError.self) { try H264ChunkEncoder().encode(frames, format: format) }
    }

    @Test func unknownPresetIsAnFFmpegError() throws {
        let frames = Fixture.frames(width: 320, height: 192, range: 0 ..< 2)
        do {
            _ = try H264ChunkEncoder(preset: "warp-speed").encode(frames, format: Self.format)
            Issue.record("a preset libx264 does not know was accepted")
        } catch let error as MediaError {
            #expect(error.description.contains("warp-speed"), "\(error)")
        }
    }
}
