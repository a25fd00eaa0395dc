import FarmCore
import FarmRender
import FarmTestCard
import FarmTesting
import Foundation
import Testing

/// The verifier must reject films with the mistakes it exists to catch.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct VerifierFaultTests {
    @Test func acceptsACorrectFilm() throws {
        let film = try temporaryDirectory().appendingPathComponent("ok.mp4")
        let job = try renderInProcess(Storyboards.threeShots(), to: film)
        let report = try FilmVerifier.verify(film: film, job: job)
        #expect(report.passed, "\(report)")
    }

    @Test func rejectsAWrongContext() throws {
        let film = try temporaryDirectory().appendingPathComponent("ctx.mp4")
        let job = try renderInProcess(Storyboards.threeShots(), to: film, faults: [.dropContext])
        let report = try FilmVerifier.verify(film: film, job: job)
        #expect(!report.passed)
        #expect(report.checks.first { $0.name == "join picture" }?.passed == false, "\(report)")
        #expect(report.checks.first { $0.name == "frame numbers" }?.passed == true)
    }

    @Test func rejectsAShiftedAudioTrack() throws {
        let film = try temporaryDirectory().appendingPathComponent("shift.mp4")
        // 2 ms late: twice the tolerance.
        let job = try renderInProcess(Storyboards.threeShots(), to: film, faults: [.shiftAudio(samples: 96)])
        let report = try FilmVerifier.verify(film: film, job: job)
        #expect(report.checks.first { $0.name == "bursts" }?.passed == false, "\(report)")
    }

    @Test func rejectsAFilmOfAnotherStoryboard() throws {
        let film = try temporaryDirectory().appendingPathComponent("other.mp4")
        _ = try renderInProcess(Storyboards.threeShots(), to: film)
        let longer = try JobSpec.parse(Storyboards.threeShots().replacingOccurrences(of: "frames: 7", with: "frames: 9"), source: "t")
        let job = try JobContext(spec: longer, geometry: TestCardEngine().geometry)
        let report = try FilmVerifier.verify(film: film, job: job)
        #expect(report.checks.first { $0.name == "frame numbers" }?.passed == false)
    }

    @Test func cliExitsNonZeroOnAFailedCheck() throws {
        let dir = try temporaryDirectory()
        let job = try Storyboards.write(Storyboards.threeShots())
        let film = dir.appendingPathComponent("f.mp4")
        let render = try ProcessRunner.run(reelfarm, ["render", job.path, "-o", film.path, "--quiet", "--inject-fault", "shift-audio:480"])
        #expect(render.status == 0, "\(render.stderr)")
        let verify = try ProcessRunner.run(reelfarm, ["verify", film.path, "--job", job.path])
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("FAIL"))
    }

    @Test func byteIdenticalAcrossRunsAndThreadCounts() throws {
        let dir = try temporaryDirectory()
        let a = dir.appendingPathComponent("a.mp4"), b = dir.appendingPathComponent("b.mp4")
        _ = try renderInProcess(Storyboards.threeShots(schedule: .anchored), to: a, jobs: 1)
        _ = try renderInProcess(Storyboards.threeShots(schedule: .anchored), to: b, jobs: 3)
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
    }
}
