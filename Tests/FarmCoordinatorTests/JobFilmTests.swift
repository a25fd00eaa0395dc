@testable import FarmCoordinator
import FarmCore
import FarmMedia
import FarmStore
import Foundation
import Testing

/// A job's film while its segments land: the prefix rule, and each reason to give the head start up for a whole
/// assembly at the end.
@Suite struct JobFilmTests {
    let format = OutputFormat(width: 64, height: 48, fps: Rational(24), sampleRate: 48_000, channels: 1)

    /// Three segments' chunks and PCM, stored as the coordinator stores a result's outputs.
    func storedSegments(in dir: URL) throws -> (ArtifactStore, [JobFilm.Part]) {
        MediaLog.setLevel(.errors)
        let artifacts = try ArtifactStore(root: dir.appendingPathComponent("artifacts"))
        var parts: [JobFilm.Part] = []
        var start = 0
        for (index, length) in [5, 7, 6].enumerated() {
            var frames = VideoFrames(width: format.width, height: format.height)
            for frame in start ..< start + length {
                frames.append(frame: [UInt8](repeating: UInt8(20 + 9 * frame), count: format.width * format.height * 3))
            }
            let chunk = try H264ChunkEncoder().encode(frames, format: format)
            let samples = format.clock.sample(atFrame: start + length) - format.clock.sample(atFrame: start)
            let pcm = PCMBuffer(channels: 1, samples: (0 ..< samples).map { Float(($0 * 7 + index) % 97) / 200 })
            parts.append(("s/\(index)", try artifacts.put(chunk.data), try artifacts.put(PCMCodec.encode(pcm))))
            start += length
        }
        return (artifacts, parts)
    }

    func film(_ artifacts: ArtifactStore, in dir: URL, log: LogLines) -> JobFilm {
        JobFilm(job: "j", format: format, artifacts: artifacts, assembler: MP4FilmAssembler(),
                workingDirectory: dir.appendingPathComponent("assembly"), log: { log.append($0) })
    }

    func whole(_ artifacts: ArtifactStore, _ parts: [JobFilm.Part], in dir: URL) throws -> Data {
        let output = dir.appendingPathComponent("whole.mp4")
        try MP4FilmAssembler().assemble(ArtifactFilm(segments: parts, artifacts: artifacts), format: format, to: output)
        return try Data(contentsOf: output)
    }

    /// Segments landing out of order wait for the ones before them; the film is the whole assembly's.
    @Test func segmentsWaitForThoseBeforeThem() throws {
        let dir = try temporaryDirectory()
        let (artifacts, parts) = try storedSegments(in: dir)
        let log = LogLines()
        let film = film(artifacts, in: dir, log: log)
        film.finished(2, parts[2])
        film.finished(1, parts[1])
        film.finished(0, parts[0])
        let output = dir.appendingPathComponent("film.mp4")
        #expect(film.finish(parts, to: output))
        #expect(try Data(contentsOf: output) == whole(artifacts, parts, in: dir))
        #expect(log.all.isEmpty, "\(log.all)")
    }

    /// A segment that finishes again with other outputs than the film took: the film is given up.
    @Test func aSegmentFinishedAgainWithOtherOutputsGivesTheFilmUp() throws {
        let dir = try temporaryDirectory()
        let (artifacts, parts) = try storedSegments(in: dir)
        let log = LogLines()
        let film = film(artifacts, in: dir, log: log)
        film.finished(0, parts[0])
        film.finished(0, (parts[0].key, parts[1].chunk, parts[1].audio))
        #expect(log.all.contains { $0.contains("finished again with other outputs") }, "\(log.all)")
        #expect(!film.finish(parts, to: dir.appendingPathComponent("film.mp4")))
    }

    /// The stored list at the end does not start with what the film took: nothing is written, the caller assembles
    /// whole.
    @Test func aFilmThatIsNotAPrefixOfTheStoredSegmentsIsNotFinished() throws {
        let dir = try temporaryDirectory()
        let (artifacts, parts) = try storedSegments(in: dir)
        let film = film(artifacts, in: dir, log: LogLines())
        film.finished(0, parts[0])
        let output = dir.appendingPathComponent("film.mp4")
        #expect(!film.finish([parts[1], parts[0], parts[2]], to: output))
        #expect(!FileManager.default.fileExists(atPath: output.path))
    }

    /// An artifact damaged before the film reads it: the film is given up (the whole assembly then finds the damage).
    @Test func aDamagedArtifactGivesTheFilmUp() throws {
        let dir = try temporaryDirectory()
        let (artifacts, parts) = try storedSegments(in: dir)
        try damageArtifact(parts[1].audio, in: dir)
        let log = LogLines()
        let film = film(artifacts, in: dir, log: log)
        film.finished(1, parts[1])
        film.finished(0, parts[0])
        #expect(log.all.contains { $0.contains("assembled whole at the end") && $0.contains("s/1") }, "\(log.all)")
        #expect(!film.finish(parts, to: dir.appendingPathComponent("film.mp4")))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("assembly").path))?
            .isEmpty ?? true)
    }
}
