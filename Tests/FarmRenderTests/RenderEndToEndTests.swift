import FarmCore
import FarmRender
import FarmTestCard
import FarmTesting
import Foundation
import Testing

/// Renders through the real `reelfarm` executable and reads the film back with ffprobe and the verifier.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct RenderEndToEndTests {
    @Test(arguments: [(Schedule.chain, "24", 48_000), (Schedule.anchored, "30000/1001", 44_100)])
    func threeShotFilmVerifiesAndProbes(schedule: Schedule, fps: String, rate: Int) throws {
        let dir = try temporaryDirectory()
        let job = try Storyboards.write(Storyboards.threeShots(schedule: schedule, fps: fps, sampleRate: rate))
        let film = dir.appendingPathComponent("film.mp4")
        let render = try ProcessRunner.run(reelfarm, ["render", job.path, "-o", film.path, "--jobs", "2", "--quiet"])
        #expect(render.status == 0, "render failed: \(render.stderr)")

        let verify = try ProcessRunner.run(reelfarm, ["verify", film.path, "--job", job.path])
        #expect(verify.status == 0, "verify rejected the film:\n\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("join picture") && verify.stdout.contains("checks passed"))

        let plan = try JobContext(spec: JobSpec.load(contentsOf: job), geometry: TestCardEngine().geometry).plan
        #expect(plan.segments.count > 3, "the storyboard should need several segments")
        let streams = try FFprobe.streams(film)
        let video = try #require(streams.first { $0.codecType == "video" })
        let audio = try #require(streams.first { $0.codecType == "audio" })
        #expect(video.codecName == "h264" && video.pixelFormat == "yuv420p")
        #expect(video.readFrames == plan.totalFrames)
        #expect(audio.codecName == "aac" && audio.sampleRate == rate && audio.channels == 2)
        let frame = 1 / plan.format.fps.approximation
        #expect(abs((video.duration ?? 0) - (audio.duration ?? 0)) < frame, "durations \(video.duration ?? -1) vs \(audio.duration ?? -1)")
    }

    @Test func badStoryboardExitsTwoNamingTheFieldAndWritesNothing() throws {
        let dir = try temporaryDirectory()
        let text = Storyboards.threeShots().replacingOccurrences(of: "duration: 2.1", with: "duration: -2")
        let job = try Storyboards.write(text)
        let film = dir.appendingPathComponent("film.mp4")
        let out = try ProcessRunner.run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"])
        #expect(out.status == 2)
        #expect(out.stderr.contains("shots[1].duration"), "stderr: \(out.stderr)")
        #expect(out.stderr.contains("must be > 0"))
        #expect(!FileManager.default.fileExists(atPath: film.path))
        let plan = try ProcessRunner.run(reelfarm, ["plan", job.path])
        #expect(plan.status == 2 && plan.stderr.contains("shots[1].duration"))
        let missing = try ProcessRunner.run(reelfarm, ["plan", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 2 && missing.stderr.contains("nope.yaml"))
    }

    @Test func planJSONHasTheDocumentedShape() throws {
        let job = try Storyboards.write(Storyboards.threeShots())
        let out = try ProcessRunner.run(reelfarm, ["plan", job.path, "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let segments = try #require(doc["segments"] as? [[String: Any]])
        let first = try #require(segments.first)
        for key in ["id", "shot", "index", "generate", "own", "samples", "context", "depends_on"] {
            #expect(first[key] != nil, "segment is missing \(key)")
        }
        #expect(doc["total_frames"] as? Int != nil && doc["total_samples"] as? Int != nil && doc["critical_path"] as? Int != nil)
        // Owned ranges tile [0, total_frames).
        var next = 0
        for s in segments {
            let own = try #require(s["own"] as? [Int])
            #expect(own[0] == next)
            next = own[1]
        }
        #expect(next == doc["total_frames"] as? Int)
    }

    @Test func sampleIsShippedInTheBinary() throws {
        let out = try ProcessRunner.run(reelfarm, ["sample", "cyber-lobster"])
        #expect(out.status == 0)
        #expect(try JobSpec.parse(out.stdout, source: "stdout").shots.count == 5)
    }
}
