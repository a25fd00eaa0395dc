import FarmCore
import FarmMedia
import Foundation
import Testing

@Suite(.timeLimit(.minutes(3))) struct FilmDecoderTests {
    /// Builds `film` (chunks in `order`) and decodes it, collecting each frame's mean luma.
    private func roundTrip(_ film: TestFilm, order: [Int] = [0, 1]) throws -> (DecodedFilm, [Double]) {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("film.mp4")
        let chunks = try film.chunks()
        try MP4FilmAssembler().assemble(chunks: order.map { chunks[$0] }, audio: film.audio(), format: film.format,
                                        to: output)
        var means: [Double] = []
        let decoded = try FilmDecoder(url: output).decode { frame in
            #expect(frame.index == means.count)
            #expect(frame.luma.count == frame.width * frame.height)
            means.append(frame.meanLuma)
        }
        return (decoded, means)
    }

    @Test(arguments: MP4FilmAssemblerTests.rates)
    func framesComeBackInOrder(fps: Rational) throws {
        let film = TestFilm(fps: fps)
        let (decoded, means) = try roundTrip(film)
        #expect(decoded.videoCodec == "h264")
        #expect(decoded.frameCount == film.totalFrames)
        #expect(decoded.width == 320 && decoded.height == 192)
        #expect(decoded.videoDuration == Rational(Int64(film.totalFrames)) * Rational(fps.denominator, fps.numerator))
        #expect(decoded.averageFPS == fps)
        #expect(means.count == film.totalFrames)
        for (index, mean) in means.enumerated() {
            let expected = Fixture.expectedMeanLuma(ofFrame: index, width: 320, height: 192)
            #expect(abs(mean - expected) < 2, "frame \(index): mean luma \(mean), expected \(expected)")
        }
    }

    @Test func swappedChunksAreNoticed() throws {
        let film = TestFilm(fps: Rational(24))
        let (_, means) = try roundTrip(film, order: [1, 0])
        let misplaced = means.enumerated().filter { index, mean in
            abs(mean - Fixture.expectedMeanLuma(ofFrame: index, width: 320, height: 192)) >= 2
        }
        #expect(misplaced.count == film.totalFrames)
    }

    @Test(arguments: MP4FilmAssemblerTests.rates)
    func clicksComeBackAtTheirSample(fps: Rational) throws {
        let film = TestFilm(fps: fps)
        let (decoded, _) = try roundTrip(film)
        #expect(decoded.audioCodec == "aac")
        #expect(decoded.sampleRate == 48_000 && decoded.channels == 2)
        let audio = try #require(decoded.audio)
        #expect(audio.frameCount == decoded.audioSampleCount)
        let length = film.format.clock.sample(atFrame: film.totalFrames)
        #expect(decoded.audioSampleCount == length)
        for channel in 0 ..< 2 {
            let heard = Fixture.loudestSample(in: audio, channel: channel)
            let written = film.clicks[channel]
            #expect(abs(heard - written) <= 48, "channel \(channel): click at \(heard), written at \(written)")
        }
    }

    @Test func missingFileIsAnFFmpegError() throws {
        let url = URL(fileURLWithPath: "/nonexistent/film.mp4")
        #expect(throws: MediaError.self) { _ = try FilmDecoder(url: url).decode { _ in } }
    }

    @Test func callbackErrorStopsDecoding() throws {
        struct Enough: Error {}
        let film = TestFilm(fps: Rational(24))
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("film.mp4")
        try MP4FilmAssembler().assemble(chunks: film.chunks(), audio: film.audio(), format: film.format, to: output)
        var seen = 0
        #expect(throws: Enough.self) {
            _ = try FilmDecoder(url: output).decode { _ in
                seen += 1
                if seen == 3 { throw Enough() }
            }
        }
        #expect(seen == 3)
    }
}
