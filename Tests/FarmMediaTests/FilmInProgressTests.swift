import FarmCore
@testable import FarmMedia
import Foundation
import Testing

/// A film's parts: chunks of synthetic frames and noise (so that a sample out of place anywhere changes the
/// encode), one audio piece per chunk holding exactly its samples, as a farm's segments deliver them.
private struct Segments {
    let format: OutputFormat
    let chunks: [EncodedChunk]
    let audio: [PCMBuffer]

    init(fps: Rational, sampleRate: Int = 48_000, channels: Int = 2, chunkLengths: [Int]) throws {
        _ = quietFFmpeg
        format = OutputFormat(width: 160, height: 96, fps: fps, sampleRate: sampleRate, channels: channels)
        var start = 0
        var chunks: [EncodedChunk] = [], audio: [PCMBuffer] = []
        var state: UInt32 = 12_345
        for length in chunkLengths {
            let frames = Fixture.frames(width: format.width, height: format.height, range: start ..< start + length)
            chunks.append(try H264ChunkEncoder().encode(frames, format: format))
            let samples = format.clock.sample(atFrame: start + length) - format.clock.sample(atFrame: start)
            audio.append(PCMBuffer(channels: channels, samples: (0 ..< samples * channels).map { _ in
                state = state &* 1_664_525 &+ 1_013_904_223
                return Float(state >> 8) / Float(1 << 24) - 0.5
            }))
            start += length
        }
        self.chunks = chunks
        self.audio = audio
    }

    /// The first `count` segments.
    func prefix(_ count: Int) -> FilmInMemory {
        FilmInMemory(chunks: Array(chunks.prefix(count)), audio: Array(audio.prefix(count)))
    }

    var all: FilmInMemory { prefix(chunks.count) }

    /// The film as ``MP4FilmAssembler/assemble(_:format:to:)`` writes it from all the parts at once.
    func whole(in directory: URL) throws -> Data {
        let output = directory.appendingPathComponent("whole-\(UUID().uuidString).mp4")
        try MP4FilmAssembler().assemble(all, format: format, to: output)
        return try Data(contentsOf: output)
    }

    /// The film assembled progressively, segments handed over `step` at a time.
    func progressive(in directory: URL, step: Int = 1) throws -> (film: Data, restarts: Int) {
        let film = try #require(try MP4FilmAssembler().begin(format: format, workingDirectory: directory))
        for landed in stride(from: step, to: chunks.count, by: step) { try film.append(prefix(landed)) }
        let output = directory.appendingPathComponent("progressive-\(UUID().uuidString).mp4")
        try film.finish(all, to: output)
        return (try Data(contentsOf: output), (film as? MP4FilmInProgress)?.restarts ?? -1)
    }
}

/// Files in `directory` whose name starts with a dot: the working files of films in progress.
private func workingFiles(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
}

/// A film assembled as its segments land (the farm's way) is the same file as one assembled whole after the last.
@Suite struct FilmInProgressTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var fps: Rational
        var sampleRate: Int
        var channels: Int
        var chunkLengths: [Int]
        var testDescription: String { "\(fps) fps, \(sampleRate) Hz, \(channels) ch, chunks \(chunkLengths)" }
    }

    /// Segments whose sample counts are not multiples of the AAC frame (1 024), mono and stereo, 44.1 and 48 kHz,
    /// whole and NTSC-style rates.
    static let shapes = [
        Shape(fps: Rational(24), sampleRate: 48_000, channels: 2, chunkLengths: [13, 8]),
        Shape(fps: Rational(24000, 1001), sampleRate: 44_100, channels: 1, chunkLengths: [7, 11, 5, 4]),
        Shape(fps: Rational(24000, 1001), sampleRate: 48_000, channels: 2, chunkLengths: [5, 3, 12, 1, 6]),
        Shape(fps: Rational(25), sampleRate: 44_100, channels: 2, chunkLengths: [3, 9, 12, 2]),
        Shape(fps: Rational(30000, 1001), sampleRate: 48_000, channels: 1, chunkLengths: [11]),
    ]

    @Test(arguments: shapes)
    func progressiveFilmIsByteIdenticalToTheWholeAssembly(shape: Shape) throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: shape.fps, sampleRate: shape.sampleRate, channels: shape.channels,
                                    chunkLengths: shape.chunkLengths)
        let whole = try segments.whole(in: directory)
        for step in [1, 2, segments.chunks.count] {
            let progressive = try segments.progressive(in: directory, step: step).film
            #expect(progressive == whole,
                    "handed over \(step) at a time: \(progressive.count) bytes, whole \(whole.count)")
        }
        #expect(try workingFiles(in: directory).isEmpty)
    }

    /// A first chunk of one frame decodes without delay, the next with B-frames: every decode time so far was off,
    /// so the film starts over with the larger delay and still comes out the same.
    @Test func aLaterChunkWithALargerDecodeDelayStartsTheFilmOver() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(30000, 1001), chunkLengths: [1, 13, 8])
        let delays = try segments.chunks.map { ChunkSequence.decodeDelay(of: try ChunkInfo.parse($0)) }
        try #require(delays[0] == 0 && delays[1] > 0, "the chunks' decode delays are \(delays)")
        let (film, restarts) = try segments.progressive(in: directory)
        #expect(restarts == 1)
        #expect(film == (try segments.whole(in: directory)))
    }

    /// The comparison the tests above rely on sees a film that differs: segments handed over in another order make
    /// a valid film, but not the same one.
    @Test func segmentsInAnotherOrderMakeAnotherFilm() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(24), chunkLengths: [8, 8, 8])
        let reordered = FilmInMemory(chunks: [segments.chunks[1], segments.chunks[0], segments.chunks[2]],
                                     audio: [segments.audio[1], segments.audio[0], segments.audio[2]])
        let film = try #require(try MP4FilmAssembler().begin(format: segments.format, workingDirectory: directory))
        try film.append(FilmInMemory(chunks: [reordered.chunks[0]], audio: [reordered.audio[0]]))
        let output = directory.appendingPathComponent("reordered.mp4")
        try film.finish(reordered, to: output)
        #expect(try Data(contentsOf: output) != segments.whole(in: directory))
    }

    /// A damaged chunk is refused naming it, the film takes nothing after, and its working file is gone.
    @Test func aCorruptChunkIsRefusedAndEndsTheFilm() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(24), chunkLengths: [8, 8, 8])
        var chunks = segments.chunks
        chunks[1].data[chunks[1].data.count / 2] ^= 0x40
        let film = try #require(try MP4FilmAssembler().begin(format: segments.format, workingDirectory: directory))
        try film.append(segments.prefix(1))
        #expect(try workingFiles(in: directory).count == 1)
        #expect {
            try film.append(FilmInMemory(chunks: Array(chunks.prefix(2)), audio: Array(segments.audio.prefix(2))))
        } throws: { error in
            guard case MediaError.chunkRefused(index: 1, let reason) = error else { return false }
            return reason.contains("checksum")
        }
        #expect(try workingFiles(in: directory).isEmpty)
        #expect(throws: MediaError.self) {
            try film.finish(segments.all, to: directory.appendingPathComponent("f.mp4"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("f.mp4").path))
    }

    /// Audio that does not end where the video so far ends (a piece one sample short) is refused.
    @Test func audioThatDoesNotMatchTheVideoSoFarIsRefused() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(24), chunkLengths: [8, 8])
        var short = segments.audio[0]
        short.samples.removeLast(short.channels)
        let film = try #require(try MP4FilmAssembler().begin(format: segments.format, workingDirectory: directory))
        #expect {
            try film.append(FilmInMemory(chunks: [segments.chunks[0]], audio: [short]))
        } throws: { error in
            guard case MediaError.invalidInput(let reason) = error else { return false }
            return reason.contains("need exactly")
        }
    }

    /// Parts that hold fewer segments than the film has taken are not the film so far: refused, not a shorter film.
    @Test func partsShorterThanWhatWasTakenAreRefused() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(24), chunkLengths: [8, 8, 8])
        let film = try #require(try MP4FilmAssembler().begin(format: segments.format, workingDirectory: directory))
        try film.append(segments.prefix(2))
        let output = directory.appendingPathComponent("film.mp4")
        #expect {
            try film.finish(segments.prefix(1), to: output)
        } throws: { error in
            guard case MediaError.invalidInput(let reason) = error else { return false }
            return reason.contains("has taken 2")
        }
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    /// A film abandoned part-way leaves no working file behind.
    @Test func discardDeletesTheWorkingFile() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let segments = try Segments(fps: Rational(24), chunkLengths: [8, 8])
        let film = try #require(try MP4FilmAssembler().begin(format: segments.format, workingDirectory: directory))
        try film.append(segments.prefix(1))
        #expect(try workingFiles(in: directory).count == 1)
        film.discard()
        #expect(try workingFiles(in: directory).isEmpty)
        #expect(throws: MediaError.self) { try film.append(segments.all) }
    }
}
