import FarmCore
import Foundation
import Testing
import FarmTesting

/// `reelfarm render` with `engine: mmdit`, through the real executable, read back with ffprobe.
@Suite(.serialized, .ownThreads) struct RenderMMDiTTests {
    static func storyboard(schedule: Schedule, fps: String, rate: Int, weights: String?) -> String {
        let model = weights.map { "config: small, weights: \($0)" } ?? "config: small, seed: 3"
        return """
            title: two shots by the sea
            output: {width: 192, height: 64, fps: "\(fps)", sample_rate: \(rate), channels: 2}
            model: {engine: mmdit, \(model), window: 17, overlap: 5, steps: 2, schedule: \(schedule.rawValue)}
            shots:
              - {id: shore, duration: 1.5, prompt: "waves roll onto a dark shore", camera: wide, sound: surf,
                 cues: [{at: 1, sound: "a gull cries"}]}
              - {id: cliff, frames: 20, prompt: "the camera tilts up a cliff", transition: continue}
            """
    }

    /// Keyframe and grid-reference images in the storyboard reach the model: the film changes with them.
    @Test func storyboardImagesSteerTheFilm() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, colour) in [("key.png", "orange"), ("grid.png", "teal")] {
            let made = try run(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                               ["-v", "error", "-f", "lavfi", "-i", "color=c=\(colour):s=96x48", "-frames:v", "1", "-y",
                                dir.appendingPathComponent(name).path])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let plain = Self.storyboard(schedule: .chain, fps: "24", rate: 48_000, weights: nil)
        let keyed = plain.replacingOccurrences(of: "transition: continue}", with: "transition: continue,\n     keyframes: [{at: 0.5, image: key.png}]}")
            + "\nreferences: [grid.png]\n"
        var films: [Data] = []
        for (i, text) in [plain, keyed].enumerated() {
            let job = dir.appendingPathComponent("job\(i).yaml")
            try text.write(to: job, atomically: true, encoding: .utf8)
            let film = dir.appendingPathComponent("film\(i).mp4")
            let render = try run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"])
            try #require(render.status == 0, "render failed: \(render.stderr)")
            films.append(try Data(contentsOf: film))
        }
        #expect(films[0] != films[1])
        // A keyframe image that is not an image is refused with its field named, exit 2.
        try Data("not a png".utf8).write(to: dir.appendingPathComponent("key.png"))
        let bad = try run(reelfarm, ["render", dir.appendingPathComponent("job1.yaml").path, "-o", dir.appendingPathComponent("x.mp4").path, "--quiet"])
        #expect(bad.status == 2 && bad.stderr.contains("shots[1].keyframes[0].image"), "\(bad.stderr)")
    }

    @Test(arguments: [(Schedule.chain, "24", 48_000, true), (Schedule.anchored, "30000/1001", 44_100, false)])
    func twoShotFilmPlaysWithBothStreamsAndThePlannedDurations(
        schedule: Schedule, fps: String, rate: Int, withFile: Bool
    ) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        if withFile {
            let made = try run(
                reelfarm,
                [
                    "model", "init", "--config", "small", "--seed", "1", "-o",
                    dir.appendingPathComponent("small.safetensors").path,
                ])
            #expect(made.status == 0, "model init failed: \(made.stderr)")
        }
        let text = Self.storyboard(
            schedule: schedule, fps: fps, rate: rate, weights: withFile ? "small.safetensors" : nil)
        let job = dir.appendingPathComponent("job.yaml")
        try text.write(to: job, atomically: true, encoding: .utf8)
        let film = dir.appendingPathComponent("film.mp4")
        let render = try run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"])
        try #require(render.status == 0, "render failed: \(render.stderr)")

        let spec = try JobSpec.load(contentsOf: job)
        let plan = try JobContext(spec: spec, geometry: EngineGeometry(latentChannels: 8, maxWindow: 97)).plan
        #expect(plan.segments.count >= 4, "the storyboard should need several segments")
        let streams = try probe(film)
        let video = try #require(streams.first { $0["codec_type"] as? String == "video" })
        let audio = try #require(streams.first { $0["codec_type"] as? String == "audio" })
        #expect(
            video["codec_name"] as? String == "h264" && video["width"] as? Int == 192 && video["height"] as? Int == 64)
        #expect((video["nb_read_frames"] as? String).flatMap { Int($0) } == plan.totalFrames)
        #expect(audio["codec_name"] as? String == "aac" && audio["sample_rate"] as? String == "\(rate)")
        let planned = spec.output.clock.time(ofFrame: plan.totalFrames).approximation
        let frame = 1 / spec.output.fps.approximation
        for s in [video, audio] {
            let d = try #require((s["duration"] as? String).flatMap { Double($0) })
            #expect(abs(d - planned) < frame, "\(s["codec_type"] ?? "?") lasts \(d) s, planned \(planned) s")
        }
    }

    @Test func mismatchedWeightsAreRefusedNamingTheField() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let job = dir.appendingPathComponent("job.yaml")
        try Self.storyboard(schedule: .chain, fps: "24", rate: 48_000, weights: Fixtures.tinyWeights.path)
            .write(to: job, atomically: true, encoding: .utf8)
        let film = dir.appendingPathComponent("film.mp4")
        let out = try run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"])
        #expect(out.status == 2 && out.stderr.contains("model.weights") && out.stderr.contains("tiny"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: film.path))
    }
}
