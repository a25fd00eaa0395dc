import FarmCoordinator
import FarmCore
import FarmRender
import FarmTesting
import FarmWire
import Foundation
import Testing

/// Farms whose workers run their engines in engine processes (Sources/ReelfarmEngines/ENGINES.md): the Swift test
/// card served by `reelfarm engine serve`, and the Python engines (diffusers' LTX-2 and SkyReels-V2, the MMDiT in
/// PyTorch) with tiny random weights built in code. Real processes on 127.0.0.1; films read back with ffprobe/ffmpeg.
@Suite(.serialized, .timeLimit(.minutes(10)), .ownThreads) struct EngineFarmTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The engines' Python (Scripts/bootstrap --engines makes it; Scripts/test exports REELFARM_ENGINES_PYTHON).
    static var python: String? {
        let env = ProcessInfo.processInfo.environment["REELFARM_ENGINES_PYTHON"]
        let local = repository.appendingPathComponent(".venv-engines/bin/python").path
        return [env, local].compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `--engine-command NAME=…` for a Python engine, one torch thread (tests share two cores).
    static func pythonEngine(_ name: String, _ extra: String = "") throws -> [String] {
        let python = try #require(Self.python, "the Python engines are not installed: run Scripts/bootstrap --engines")
        let path = repository.appendingPathComponent("Sources/ReelfarmEngines").path
        return ["--engine-command",
                "\(name)=env PYTHONPATH=\(path) OMP_NUM_THREADS=1 \(python) -m reelfarm_engines \(name) --device cpu \(extra)"]
    }

    static func servedTestCard(as name: String = "testcard", _ extra: String = "") -> [String] {
        ["--engine-command", "\(name)=\(reelfarm.path) engine serve testcard --as \(name) \(extra)"]
    }

    /// The number of samples ffmpeg decodes from the film's audio (it keeps the last AAC frame's padding).
    func decodedSamples(_ film: URL, channels: Int) throws -> Int {
        let out = try ProcessRunner.run(URL(fileURLWithPath: "/bin/sh"),
                                        ["-c", "ffmpeg -v error -i '\(film.path)' -map 0:a -f f32le - | wc -c"], timeout: 120)
        return (Int(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1) / (4 * channels)
    }

    /// Checks the film against its plan with ffprobe (codecs, size, every frame) and ffmpeg (samples).
    func expectPlanned(_ film: URL, _ text: String, geometry: EngineGeometry) throws {
        let spec = try JobSpec.parse(text, source: "t")
        let plan = try JobContext(spec: spec, geometry: geometry).plan
        let streams = try FFprobe.streams(film)
        let video = try #require(streams.first { $0.codecType == "video" })
        let audio = try #require(streams.first { $0.codecType == "audio" })
        #expect(video.codecName == "h264" && video.width == spec.output.width && video.height == spec.output.height)
        #expect(video.readFrames == plan.totalFrames, "decoded \(video.readFrames ?? -1) frames, planned \(plan.totalFrames)")
        #expect(audio.codecName == "aac" && audio.sampleRate == spec.output.sampleRate && audio.channels == spec.output.channels)
        let samples = try decodedSamples(film, channels: spec.output.channels)
        // AAC ends on whole 1024-sample frames; everything before the padding is the planned sound.
        #expect(samples >= plan.totalSamples && samples < plan.totalSamples + 1024, "decoded \(samples), planned \(plan.totalSamples)")
    }

    func storyboard(engine: String, config: String? = nil, size: (Int, Int) = (192, 64), window: Int, overlap: Int) -> String {
        """
        title: engine \(engine)
        output: {width: \(size.0), height: \(size.1), fps: "24", sample_rate: 48000, channels: 2}
        model: {engine: \(engine), window: \(window), overlap: \(overlap), steps: 2, seed: 3, schedule: chain\(config.map { ", config: \($0)" } ?? "")}
        shots:
          - {id: sea, duration: 1.5, prompt: "waves at dusk", sound: "surf"}
          - {id: gull, duration: 1, prompt: "a gull lands", sound: "a cry", transition: continue}
          - {id: pier, frames: 13, prompt: "an empty pier", sound: "wind"}
        """
    }

    /// Renders `text` on a fresh farm of two workers running `command`; kills one engine process mid-task when asked.
    func render(_ text: String, workers extra: [String], killEngine pattern: String? = nil, dir: URL) throws -> (URL, StatusReport, LocalFarm) {
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        try farm.startCoordinator()
        let first = try farm.startWorker(name: "w1", extra: extra)
        try farm.startWorker(name: "w2", extra: extra)
        let client = try FarmClient(endpoint: farm.endpoint)
        // Both workers have declared the engine's grid once they are listed with it.
        _ = try waitForWorkers(client, count: 2, seconds: 120)
        let job = try client.submit(storyboard: text, source: "engine.yaml", priority: 0).job
        if let pattern {
            let busy = try waitFor(client, job: job, seconds: 120) { r in
                r.tasks?.contains { $0.state == "running" && $0.worker?.hasPrefix("w1") == true && $0.step >= 1 } ?? false
            }
            _ = busy
            let killed = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/pkill"), ["-KILL", "-P", "\(first.processIdentifier)", "-f", pattern], timeout: 10)
            #expect(killed.status == 0, "no engine process matched \(pattern)")
        }
        let status = try waitFor(client, job: job, seconds: 300)
        let film = dir.appendingPathComponent("film.mp4")
        if status.jobs.first?.state == "done" { _ = try client.fetch(job: job, to: film) }
        return (film, status, farm)
    }

    func waitForWorkers(_ client: FarmClient, count: Int, seconds: Double) throws -> WorkersReport {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let r = try client.workers()
            if r.workers.filter({ $0.state == "alive" }).count >= count || Date() > deadline { return r }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    @Test func theServedTestCardMakesTheSameFilmAndSurvivesAKilledEngine() throws {
        let dir = try temporaryDirectory()
        let (film, status, farm) = try render(farmStoryboard, workers: Self.servedTestCard("--step-delay-ms 150"),
                                              killEngine: "engine serve testcard", dir: dir)
        defer { farm.shutdown() }
        try #require(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")\n\(farm.log("w1"))")
        #expect(try Data(contentsOf: film) == localFilm(farmStoryboard), "engine processes must not change a byte")
        let failed = status.attempts?.filter { $0.outcome == "failed" } ?? []
        #expect(failed.count == 1, "one attempt is lost with the engine: \(status.attempts ?? [])")
        #expect(farm.log("w1").contains("was killed by signal 9"), "the worker logs why its task failed: \(farm.log("w1"))")
        #expect(farm.log("w1").components(separatedBy: "ready in").count - 1 >= 2, "the engine was started again")
    }

    @Test func anEngineNoWorkerOffersIsRefusedThenWaitsWithTheReason() throws {
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let client = try FarmClient(endpoint: farm.endpoint)
        let text = storyboard(engine: "cards", window: 33, overlap: 9)
        // Never declared: the grid is unknown, so the storyboard cannot be checked; refused with the field named.
        #expect {
            _ = try client.submit(storyboard: text, source: "cards.yaml", priority: 0)
        } throws: { "\($0)".contains("model.engine") && "\($0)".contains("no worker has offered engine \"cards\"") }
        let offering = try farm.startWorker(name: "cards", extra: Self.servedTestCard(as: "cards") + ["--engine", "cards"])
        _ = try waitForWorkers(client, count: 1, seconds: 60)
        // Breaking the declared grid is refused with the field named (the test card's is 1 + 4k frames).
        #expect {
            _ = try client.submit(storyboard: storyboard(engine: "cards", window: 31, overlap: 9), source: "bad.yaml", priority: 0)
        } throws: { "\($0)".contains("model.window") && "\($0)".contains("1 + 4·k") }
        LocalFarm.signal(offering, SIGTERM)
        try farm.startWorker(name: "other", extra: ["--engine", "testcard"])
        _ = try waitForWorkers(client, count: 1, seconds: 60)
        let job = try client.submit(storyboard: text, source: "cards.yaml", priority: 0).job
        // Until the other worker's hello, "no worker is connected"; then the engine is what is missing.
        let waiting = try waitFor(client, job: job, seconds: 60) { $0.jobs.first?.waiting?.contains("offers") == true }
        #expect(waiting.jobs.first?.waiting == "no connected worker offers engine cards", "\(waiting.jobs)")
        try farm.startWorker(name: "cards2", extra: Self.servedTestCard(as: "cards") + ["--engine", "cards"])
        let done = try waitFor(client, job: job, seconds: 120)
        #expect(done.jobs.first?.state == "done", "\(farm.log("coordinator"))")
    }

    @Test func aGridOfAnotherSpatialMultipleIsRefusedNamingTheSide() throws {
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        try farm.startWorker(name: "mm", extra: ["--engine-command", "mm=\(reelfarm.path) engine serve mmdit --config tiny --as mm",
                                                 "--engine", "mm"])
        let client = try FarmClient(endpoint: farm.endpoint)
        _ = try waitForWorkers(client, count: 1, seconds: 60)
        #expect {
            _ = try client.submit(storyboard: storyboard(engine: "mm", config: "tiny", size: (200, 64), window: 17, overlap: 5),
                                  source: "mm.yaml", priority: 0)
        } throws: { "\($0)".contains("output.width") && "\($0)".contains("multiple of 16") }
    }

    // MARK: the Python engines

    @Test func ltx2RendersJointSoundAndPictureAndSurvivesAKilledEngine() throws {
        let text = storyboard(engine: "ltx2", window: 17, overlap: 9)
        let dir = try temporaryDirectory()
        let (film, status, farm) = try render(text, workers: try Self.pythonEngine("ltx2", "--config tiny"),
                                              killEngine: "reelfarm_engines ltx2", dir: dir)
        defer { farm.shutdown() }
        try #require(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")\n\(farm.log("w1"))\n\(farm.log("coordinator"))")
        try expectPlanned(film, text, geometry: EngineGeometry(temporalStride: 8, spatialStride: 32, latentChannels: 1, maxWindow: 41))
        #expect(status.attempts?.filter { $0.outcome == "failed" }.count == 1, "\(status.attempts ?? [])")
    }

    @Test func skyreelsDiffusionForcingRendersOnAFarm() throws {
        let text = storyboard(engine: "skyreels-v2-df", window: 17, overlap: 5)
        let dir = try temporaryDirectory()
        let (film, status, farm) = try render(text, workers: try Self.pythonEngine("skyreels-v2-df", "--config tiny"), dir: dir)
        defer { farm.shutdown() }
        try #require(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")\n\(farm.log("w1"))")
        try expectPlanned(film, text, geometry: EngineGeometry(latentChannels: 1, maxWindow: 17))
    }

    @Test func mmditTorchAndTheSwiftCoreMakeFilmsOfTheSameShape() throws {
        let torch = storyboard(engine: "mmdit-torch", config: "tiny", window: 17, overlap: 5)
        let swift = torch.replacingOccurrences(of: "engine: mmdit-torch", with: "engine: mmdit")
        let dir = try temporaryDirectory()
        let (film, status, farm) = try render(torch, workers: try Self.pythonEngine("mmdit-torch", "--config tiny"), dir: dir)
        defer { farm.shutdown() }
        try #require(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")\n\(farm.log("w1"))")
        let local = dir.appendingPathComponent("swift.mp4")
        let board = dir.appendingPathComponent("swift.yaml")
        try swift.write(to: board, atomically: true, encoding: .utf8)
        let rendered = try ProcessRunner.run(reelfarm, ["render", board.path, "-o", local.path, "--quiet"], timeout: 300)
        try #require(rendered.status == 0, "\(rendered.stderr)")
        let geometry = EngineGeometry(latentChannels: 1, maxWindow: 17)
        try expectPlanned(film, torch, geometry: geometry)
        try expectPlanned(local, swift, geometry: geometry)
        let (a, b) = (try FFprobe.streams(film), try FFprobe.streams(local))
        #expect(a.map(\.readFrames) == b.map(\.readFrames))
        #expect(try decodedSamples(film, channels: 2) == decodedSamples(local, channels: 2))
    }
}
