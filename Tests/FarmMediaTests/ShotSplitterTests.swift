import FarmCore
import FarmMedia
import FarmTesting
import Foundation
import Testing

/// The splitter cuts by stream copy only where a shot opens on a keyframe; anything else is refused before a file is
/// written.
@Suite(.timeLimit(.minutes(2))) struct ShotSplitterTests {
    @Test func refusesAFilmWhoseSecondShotDoesNotStartOnAKeyframe() throws {
        _ = quietFFmpeg
        let dir = try TestPaths.temporaryDirectory("split")
        let film = dir.appendingPathComponent("one-gop.mp4")
        // One GOP for the whole film, no B-frames: frame 24 is a P-frame.
        let made = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ffmpeg"), [
            "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x192:rate=24", "-frames:v", "48", "-c:v", "libx264",
            "-g", "1000", "-bf", "0", "-pix_fmt", "yuv420p", film.path,
        ], timeout: 60)
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        let spec = JobSpec(
            title: "t",
            output: OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48_000, channels: 2),
            model: ModelSpec(engine: "testcard", window: 33, overlap: 9, steps: 1, seed: 1, schedule: .chain),
            shots: [ShotSpec(id: "a", length: .frames(24), prompt: ""),
                    ShotSpec(id: "b", length: .frames(24), prompt: "")])
        let geometry = EngineGeometry(temporalStride: 4, spatialStride: 8, latentChannels: 4, maxWindow: 1025)
        let layout = FilmLayout(spec: spec, plan: try Planner.plan(spec, geometry: geometry))
        let outputs = layout.shots.map { dir.appendingPathComponent("\($0.id).mp4") }
        let silence = PCMBuffer(channels: 2, samples: [Float](repeating: 0, count: layout.totalSamples * 2))
        do {
            try ShotSplitter(film: film).split(layout: layout, format: spec.output, audio: silence, to: outputs)
            Issue.record("a shot that starts on a P-frame was cut by stream copy")
        } catch let error as MediaError {
            #expect("\(error)".contains("shot b does not start on a keyframe"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["one-gop.mp4"])

        // The same film, laid out as one shot, is cut (the check is what refused it, not the file).
        let whole = JobSpec(title: "t", output: spec.output, model: spec.model,
                            shots: [ShotSpec(id: "all", length: .frames(48), prompt: "")])
        let one = FilmLayout(spec: whole, plan: try Planner.plan(whole, geometry: geometry))
        let out = dir.appendingPathComponent("all.mp4")
        try ShotSplitter(film: film).split(layout: one, format: whole.output, audio: silence, to: [out])
        let streams = try FFprobe.streams(out)
        #expect(streams.first { $0.codecType == "video" }?.readFrames == 48)
        #expect(streams.first { $0.codecType == "audio" }?.durationTS == 96_000)
    }
}
