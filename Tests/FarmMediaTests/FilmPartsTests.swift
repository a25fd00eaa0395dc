import FarmCore
import FarmMedia
import Foundation
import Testing

/// Film parts as a test scripts them: pieces of audio of any sizes, a length that may lie, chunks that may fail to
/// read or change between reads.
private struct ScriptedParts: FilmParts {
    var chunks: [EncodedChunk]
    var audio: [PCMBuffer]
    /// Overrides the pieces' real total when set.
    var claimedFrames: Int?
    /// Chunk index → what the second and later reads of it return.
    var changedOnReread: [Int: EncodedChunk] = [:]
    /// Chunk index that cannot be read.
    var unreadable: Int?
    let reads = ReadCounter()

    struct Unreadable: Error {}

    var chunkCount: Int { chunks.count }
    var audioPieceCount: Int { audio.count }

    func chunk(_ index: Int) throws -> EncodedChunk {
        if index == unreadable { throw Unreadable() }
        let n = reads.count(index)
        return n > 1 ? changedOnReread[index] ?? chunks[index] : chunks[index]
    }

    func audioPiece(_ index: Int, channels: Int) -> PCMBuffer { audio[index] }
    func audioFrameCount(channels: Int) -> Int { claimedFrames ?? audio.reduce(0) { $0 + $1.frameCount } }

    final class ReadCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var reads: [Int: Int] = [:]
        func count(_ index: Int) -> Int {
            lock.withLock {
                reads[index, default: 0] += 1
                return reads[index]!
            }
        }
    }
}

/// `pcm` cut at `sizes` (samples per channel; the rest is the last piece).
private func pieces(_ pcm: PCMBuffer, sizes: [Int]) -> [PCMBuffer] {
    var out: [PCMBuffer] = []
    var start = 0
    for size in sizes + [pcm.frameCount] {
        let end = min(start + size, pcm.frameCount)
        out.append(PCMBuffer(channels: pcm.channels,
                             samples: Array(pcm.samples[start * pcm.channels ..< end * pcm.channels])))
        start = end
    }
    return out
}

/// The assembler reads a film's parts one at a time (the farm streams them from its artifact files): however the
/// audio is split, the file is the same, and parts that do not fit are refused with nothing written.
@Suite struct FilmPartsTests {
    let film = TestFilm(fps: Rational(24))

    @Test func audioInPiecesGivesTheSameFileAsOnePiece() throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let chunks = try film.chunks()
        // Noise, so that a sample out of place anywhere changes the encode.
        var state: UInt32 = 12_345
        let noise = PCMBuffer(channels: 2, samples: (0 ..< film.audio().samples.count).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 24) - 0.5
        })
        let whole = directory.appendingPathComponent("whole.mp4")
        try MP4FilmAssembler().assemble(chunks: chunks, audio: noise, format: film.format, to: whole)
        // Empty pieces, single samples, and pieces ending one before, at and one after an AAC frame (1 024 samples).
        var random = SystemRandomNumberGenerator()
        let splits = [[0, 1, 1023, 1024, 1025, 5000, 0], [1024, 1024, 1024], [40_000],
                      (0 ..< 40).map { _ in Int.random(in: 1 ... 3000, using: &random) }]
        for sizes in splits {
            let output = directory.appendingPathComponent("pieces.mp4")
            try MP4FilmAssembler().assemble(FilmInMemory(chunks: chunks, audio: pieces(noise, sizes: sizes)),
                                            format: film.format, to: output)
            #expect(try Data(contentsOf: output) == Data(contentsOf: whole), "split at \(sizes)")
        }
    }

    @Test func piecesShorterOrLongerThanTheirClaimAreRefused() throws {
        let chunks = try film.chunks()
        let audio = film.audio()
        let needed = audio.frameCount
        var short = audio
        short.samples.removeLast(2 * 5)
        try expectRefusal(ScriptedParts(chunks: chunks, audio: pieces(short, sizes: [7000]), claimedFrames: needed)) {
            $0 == .invalidInput("the audio pieces hold \(needed - 5) samples per channel; their sizes said \(needed)")
        }
        try expectRefusal(ScriptedParts(chunks: chunks, audio: pieces(audio, sizes: [7000]) + pieces(audio, sizes: []),
                                        claimedFrames: needed)) {
            $0 == .invalidInput("audio piece 2 runs past the \(needed) samples per channel the pieces' sizes add up to")
        }
    }

    @Test func aPieceWithOtherChannelsIsRefused() throws {
        let audio = film.audio()
        let mono = PCMBuffer(channels: 1, samples: Array(audio.samples.prefix(audio.frameCount - 100)))
        let parts = ScriptedParts(chunks: try film.chunks(), audio: pieces(audio, sizes: [100]).prefix(1) + [mono])
        try expectRefusal(parts) { $0 == .invalidInput("audio piece 1 has 1 channels, the film has 2") }
    }

    @Test func aChunkThatCannotBeReadOrChangesBetweenReadsIsRefused() throws {
        let chunks = try film.chunks()
        try expectRefusal(ScriptedParts(chunks: chunks, audio: [film.audio()], unreadable: 1)) {
            guard case let .chunkRefused(index, reason) = $0 else { return false }
            return index == 1 && reason.hasPrefix("cannot be read")
        }
        // A valid chunk, but another one than was checked against the rest of the film.
        let other = try H264ChunkEncoder().encode(Fixture.frames(width: 320, height: 192, range: 0 ..< 8),
                                                  format: film.format)
        try expectRefusal(ScriptedParts(chunks: chunks, audio: [film.audio()], changedOnReread: [1: other])) {
            $0 == .chunkRefused(index: 1, reason: "changed while the film was being assembled")
        }
        // The same bytes read twice pass: the refusal above comes from the change.
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let same = ScriptedParts(chunks: chunks, audio: [film.audio()], changedOnReread: [1: chunks[1]])
        try MP4FilmAssembler().assemble(same, format: film.format, to: directory.appendingPathComponent("film.mp4"))
    }

    /// Assembles into an empty directory, expects an error `matches` accepts, and that the directory stays empty.
    private func expectRefusal(_ parts: ScriptedParts, matches: (MediaError) -> Bool) throws {
        let directory = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try MP4FilmAssembler().assemble(parts, format: film.format,
                                            to: directory.appendingPathComponent("film.mp4"))
            Issue.record("assembly succeeded")
        } catch let error as MediaError {
            #expect(matches(error), "wrong error: \(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
