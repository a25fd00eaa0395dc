import FarmCore
import FarmMedia
import Foundation
import Testing

/// A two-chunk film of synthetic frames with a click per channel, small enough to build in a blink.
struct TestFilm {
    let format: OutputFormat
    let chunkLengths: [Int]
    /// Channel 0 clicks at `clicks[0]`, channel 1 at `clicks[1]`.
    let clicks: [Int]

    init(fps: Rational, chunkLengths: [Int] = [13, 8]) {
        _ = quietFFmpeg
        format = OutputFormat(width: 320, height: 192, fps: fps, sampleRate: 48_000, channels: 2)
        self.chunkLengths = chunkLengths
        let samples = format.clock.sample(atFrame: chunkLengths.reduce(0, +))
        // Inside the second chunk, away from any AAC frame edge, and different per channel.
        clicks = [samples * 2 / 3 + 123, samples / 3 + 7]
    }

    var totalFrames: Int { chunkLengths.reduce(0, +) }

    func chunks() throws -> [EncodedChunk] {
        var start = 0
        return try chunkLengths.map { length in
            defer { start += length }
            let frames = Fixture.frames(width: format.width, height: format.height, range: start ..< start + length)
            return try H264ChunkEncoder().encode(frames, format: format)
        }
    }

    func audio() -> PCMBuffer {
        Fixture.clicks(clicks, samplesPerChannel: format.clock.sample(atFrame: totalFrames))
    }
}

@Suite struct MP4FilmAssemblerTests {
    static let rates = [Rational(24), Rational(30000, 1001)]

    @Test(arguments: rates)
    func ffprobeSeesTheWholeFilm(fps: Rational) throws {
        let film = TestFilm(fps: fps)
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("film.mp4")
        try MP4FilmAssembler().assemble(chunks: film.chunks(), audio: film.audio(), format: film.format, to: output)

        let streams = try probe(output)
        let video = try #require(streams.first { $0.codec_type == "video" })
        let audio = try #require(streams.first { $0.codec_type == "audio" })
        #expect(video.codec_name == "h264")
        #expect(video.pix_fmt == "yuv420p")
        #expect(video.width == 320 && video.height == 192)
        #expect(video.nb_read_frames == String(film.totalFrames))
        #expect(audio.codec_name == "aac")
        #expect(audio.sample_rate == "48000" && audio.channels == 2)
        let seconds = Double(film.totalFrames) / fps.approximation
        let frame = 1 / fps.approximation
        #expect(abs(video.durationSeconds - seconds) < frame, "video lasts \(video.durationSeconds) s")
        #expect(abs(audio.durationSeconds - seconds) < frame, "audio lasts \(audio.durationSeconds) s")
        #expect(abs(audio.durationSeconds - video.durationSeconds) < frame)
    }

    @Test(arguments: rates)
    func sameInputGivesIdenticalFiles(fps: Rational) throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [Data] = []
        for name in ["a.mp4", "b.mp4"] {
            let film = TestFilm(fps: fps)
            let output = directory.appendingPathComponent(name)
            try MP4FilmAssembler().assemble(chunks: film.chunks(), audio: film.audio(), format: film.format,
                                            to: output)
            files.append(try Data(contentsOf: output))
        }
        #expect(files[0] == files[1])
        // Another bit rate changes the audio track, so the comparison above can fail.
        let film = TestFilm(fps: fps)
        let other = directory.appendingPathComponent("c.mp4")
        try MP4FilmAssembler(audioBitRate: 96_000).assemble(chunks: film.chunks(), audio: film.audio(),
                                                            format: film.format, to: other)
        #expect(try Data(contentsOf: other) != files[0])
    }

    @Test func chunkOfAnotherSizeIsRefusedAndNothingIsWritten() throws {
        let film = TestFilm(fps: Rational(24))
        var chunks = try film.chunks()
        var small = film.format
        small.width = 160
        small.height = 96
        chunks[1] = try H264ChunkEncoder().encode(Fixture.frames(width: 160, height: 96, range: 13 ..< 21),
                                                  format: small)
        try expectRefusal(chunks: chunks, film: film) { error in
            guard case let .chunkRefused(index, reason) = error else { return false }
            return index == 1 && reason.contains("frame size 160x96 differs from the film's 320x192")
        }
    }

    @Test func truncatedChunkIsRefusedAndNothingIsWritten() throws {
        let film = TestFilm(fps: Rational(24))
        var chunks = try film.chunks()
        chunks[1] = EncodedChunk(data: chunks[1].data.prefix(chunks[1].data.count - 100))
        try expectRefusal(chunks: chunks, film: film) { error in
            guard case let .chunkRefused(index, reason) = error else { return false }
            return index == 1 && reason.contains("corrupt: truncated")
        }
    }

    @Test func chunkFromOtherSettingsIsRefused() throws {
        let film = TestFilm(fps: Rational(24))
        var chunks = try film.chunks()
        chunks[1] = try H264ChunkEncoder(crf: 20, preset: "medium")
            .encode(Fixture.frames(width: 320, height: 192, range: 13 ..< 21), format: film.format)
        try expectRefusal(chunks: chunks, film: film) { error in
            guard case let .chunkRefused(index, reason) = error else { return false }
            return index == 1 && reason.contains("SPS/PPS")
        }
    }

    @Test func audioOfTheWrongLengthIsRefused() throws {
        let film = TestFilm(fps: Rational(30000, 1001))
        var audio = film.audio()
        audio.samples.removeLast(2)
        let needed = film.format.clock.sample(atFrame: film.totalFrames)
        try expectRefusal(chunks: film.chunks(), audio: audio, film: film) { error in
            guard case let .invalidInput(message) = error else { return false }
            return message.contains("audio has \(needed - 1) samples per channel")
                && message.contains("need exactly \(needed) at 48000 Hz")
        }
    }

    @Test func failedAssemblyKeepsTheOldFilm() throws {
        let film = TestFilm(fps: Rational(24))
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("film.mp4")
        try Data("previous film".utf8).write(to: output)
        var chunks = try film.chunks()
        chunks[0].data[200] ^= 0xFF
        #expect(throws: MediaError.self) {
            try MP4FilmAssembler().assemble(chunks: chunks, audio: film.audio(), format: film.format, to: output)
        }
        #expect(try Data(contentsOf: output) == Data("previous film".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["film.mp4"])
    }

    /// Assembles into an empty directory, expects an error `matches` accepts, and that the directory stays empty.
    private func expectRefusal(chunks: [EncodedChunk], audio: PCMBuffer? = nil, film: TestFilm,
                               matches: (MediaError) -> Bool) throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("film.mp4")
        do {
            try MP4FilmAssembler().assemble(chunks: chunks, audio: audio ?? film.audio(), format: film.format,
                                            to: output)
            Issue.record("assembly succeeded")
        } catch let error as MediaError {
            #expect(matches(error), "wrong error: \(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
