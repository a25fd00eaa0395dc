import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import FarmTesting
import Foundation
import Testing

/// `reelfarm deliver` (the offline form of `fetch --otio/--split-shots`): the timeline read back with the
/// `opentimelineio` library, the shot files with ffprobe, both adding up to the film exactly.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct DeliveryTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A Python with `opentimelineio` (Scripts/bootstrap --engines installs it with the engines' test extras).
    static var python: String? {
        let env = ProcessInfo.processInfo.environment["REELFARM_ENGINES_PYTHON"]
        let local = repository.appendingPathComponent(".venv-engines/bin/python").path
        return [env, local].compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Reads a timeline with OTIO and prints, per track: kind, rate, each clip's name/start/duration, the markers'
    /// positions and the track's total; values as integers (they must be whole frames and samples).
    static let readTimeline = """
        import json, sys
        import opentimelineio as otio
        t = otio.adapters.read_from_file(sys.argv[1])
        out = []
        for track in t.tracks:
            clips = [(c.name, c.source_range.start_time.value, c.source_range.duration.value,
                      c.source_range.duration.rate, c.metadata["reelfarm"]["prompt"]) for c in track.find_clips()]
            for _, s, d, _, _ in clips:
                assert s == int(s) and d == int(d), (s, d)
            out.append({"kind": track.kind, "rate": track.duration().rate,
                        "clips": [[n, int(s), int(d), p] for n, s, d, _, p in clips],
                        "total": int(track.duration().value),
                        "markers": [int(m.marked_range.start_time.value) for m in track.markers]})
        print(json.dumps(out))
        """

    @Test(arguments: [("24", 48_000, Schedule.chain), ("30000/1001", 44_100, Schedule.anchored)])
    func timelineAndShotsAddUpToTheFilm(fps: String, rate: Int, schedule: Schedule) throws {
        let python = try #require(Self.python, "no Python with opentimelineio: run Scripts/bootstrap --engines")
        let dir = try temporaryDirectory()
        let text = Storyboards.threeShots(schedule: schedule, fps: fps, sampleRate: rate)
        let job = try Storyboards.write(text)
        let film = dir.appendingPathComponent("film.mp4"), otioFile = dir.appendingPathComponent("film.otio")
        let shots = dir.appendingPathComponent("shots/nested")
        let render = try ProcessRunner.run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"], timeout: 120)
        #expect(render.status == 0, "\(render.stderr)")
        let deliver = try ProcessRunner.run(reelfarm, ["deliver", film.path, "--storyboard", job.path,
                                                       "--otio", otioFile.path, "--split-shots", shots.path],
                                            timeout: 120)
        #expect(deliver.status == 0, "\(deliver.stderr)")

        let spec = try JobSpec.parse(text, source: "t")
        let layout = try FilmDelivery.layout(spec: spec, geometry: TestCardEngine().geometry, source: "t")
        let read = try ProcessRunner.run(URL(fileURLWithPath: python), ["-c", Self.readTimeline, otioFile.path],
                                         timeout: 60)
        #expect(read.status == 0, "opentimelineio could not read the timeline: \(read.stderr)")
        let tracks = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [[String: Any]])
        #expect(tracks.map { $0["kind"] as? String } == ["Video", "Audio"])
        for (track, unit) in zip(tracks, [\FilmLayout.Shot.frames, \FilmLayout.Shot.samples]) {
            let clips = try #require(track["clips"] as? [[Any]])
            #expect(clips.map { $0[0] as? String } == layout.shots.map(\.id))
            // Each clip is its shot's exact range, and the clips tile the film: frames on video, samples on audio.
            for (clip, shot) in zip(clips, layout.shots) {
                #expect(clip[1] as? Int == shot[keyPath: unit].lower && clip[2] as? Int == shot[keyPath: unit].count)
                #expect(clip[3] as? String == spec.shots[shot.index].prompt)
            }
            let total = unit == \FilmLayout.Shot.frames ? layout.totalFrames : layout.totalSamples
            #expect(clips.reduce(0) { $0 + ($1[2] as? Int ?? 0) } == total)
            #expect(track["total"] as? Int == total)
            let markers = unit == \FilmLayout.Shot.frames ? layout.joins.map(\.frame) : layout.joins.map(\.sample)
            #expect(track["markers"] as? [Int] == markers)
        }

        // The shot files, read by ffprobe: every frame and every sample of the film, each in its shot.
        let files = try FileManager.default.contentsOfDirectory(atPath: shots.path).sorted()
        #expect(files == layout.shots.map(FilmDelivery.shotFileName))
        var frames = 0, samples = 0
        for (name, shot) in zip(files, layout.shots) {
            let streams = try FFprobe.streams(shots.appendingPathComponent(name))
            let video = try #require(streams.first { $0.codecType == "video" })
            let audio = try #require(streams.first { $0.codecType == "audio" })
            #expect(video.codecName == "h264" && audio.codecName == "aac" && audio.sampleRate == rate)
            #expect(video.readFrames == shot.frames.count, "\(name): \(video.readFrames ?? -1) frames")
            #expect(audio.timeBase == "1/\(rate)" && audio.durationTS == shot.samples.count,
                    "\(name): \(audio.durationTS ?? -1) samples, shot has \(shot.samples.count)")
            frames += video.readFrames ?? 0
            samples += audio.durationTS ?? 0
        }
        #expect(frames == layout.totalFrames && samples == layout.totalSamples)
    }

    @Test func shotFilesStartWithTheirOwnFrames() throws {
        // The test card writes each frame's global number in its top rows: a shot file's first frame must be the
        // shot's first frame of the film (stream copy took the right packets).
        let dir = try temporaryDirectory()
        let text = Storyboards.threeShots()
        let job = try Storyboards.write(text)
        let film = dir.appendingPathComponent("film.mp4"), shots = dir.appendingPathComponent("shots")
        _ = try renderInProcess(text, to: film)
        let deliver = try ProcessRunner.run(reelfarm, ["deliver", film.path, "--storyboard", job.path,
                                                       "--split-shots", shots.path], timeout: 120)
        #expect(deliver.status == 0, "\(deliver.stderr)")
        let spec = try JobSpec.parse(text, source: "t")
        let layout = try FilmDelivery.layout(spec: spec, geometry: TestCardEngine().geometry, source: "t")
        for shot in layout.shots {
            let file = shots.appendingPathComponent(FilmDelivery.shotFileName(shot))
            let numbers = try FrameNumbers.read(file)
            #expect(numbers == Array(shot.frames.lower ..< shot.frames.upper), "\(shot.id): \(numbers)")
        }
    }

    @Test func refusesBadInputsWithClearErrors() throws {
        let dir = try temporaryDirectory()
        let job = try Storyboards.write(Storyboards.threeShots())
        let film = dir.appendingPathComponent("film.mp4")
        _ = try renderInProcess(Storyboards.threeShots(), to: film)

        let missing = try ProcessRunner.run(reelfarm, ["deliver", dir.appendingPathComponent("none.mp4").path,
                                                       "--storyboard", job.path,
                                                       "--otio", dir.appendingPathComponent("x.otio").path], timeout: 60)
        #expect(missing.status == 1 && missing.stderr.contains("none.mp4: no such file"), "\(missing.stderr)")

        let other = try Storyboards.write(Storyboards.threeShots()
            .replacingOccurrences(of: "frames: 7", with: "frames: 9"))
        let otioFile = dir.appendingPathComponent("x.otio")
        let wrong = try ProcessRunner.run(reelfarm, ["deliver", film.path, "--storyboard", other.path,
                                                     "--otio", otioFile.path], timeout: 60)
        #expect(wrong.status == 1 && wrong.stderr.contains("137 frames but the storyboard plans 139"),
                "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: otioFile.path), "nothing is written for the wrong storyboard")

        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let unwritable = try ProcessRunner.run(reelfarm, ["deliver", film.path, "--storyboard", job.path,
                                                          "--split-shots",
                                                          blocker.appendingPathComponent("shots").path], timeout: 60)
        #expect(unwritable.status == 1 && unwritable.stderr.contains("--split-shots")
                && unwritable.stderr.contains("a-file is a file"), "\(unwritable.stderr)")

        let nothing = try ProcessRunner.run(reelfarm, ["deliver", film.path, "--storyboard", job.path], timeout: 60)
        #expect(nothing.status == 64 && nothing.stderr.contains("nothing to write"), "\(nothing.stderr)")
    }
}

/// Reads the test card's frame numbers (top band, 24 cells, MSB left) from a film with FarmMedia's decoder.
enum FrameNumbers {
    static func read(_ file: URL) throws -> [Int] {
        var numbers: [Int] = []
        _ = try FilmDecoder(url: file).decode { frame in
            let cell = frame.width / TestCardPattern.bandBits
            var n = 0
            for bit in 0 ..< TestCardPattern.bandBits {
                let x = bit * cell + cell / 2, y = TestCardPattern.bandRows / 2
                n = n << 1 | (frame.luma[y * frame.width + x] > 128 ? 1 : 0)
            }
            numbers.append(n)
        }
        return numbers
    }
}
