import FarmCoordinator
import FarmCore
import FarmRender
import FarmTestCard
import FarmTesting
import FarmWire
import Foundation
import Testing

/// Real processes on 127.0.0.1: a coordinator and workers render what `reelfarm render` renders, byte for byte.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct FarmEndToEndTests {
    @Test(arguments: [Schedule.chain, Schedule.anchored])
    func threeWorkersRenderTheSameFilmAsOneMachine(schedule: Schedule) throws {
        let text = Storyboards.threeShots(schedule: schedule)
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator(extra: ["--release-intermediates"])
        for i in 1...3 { try farm.startWorker(name: "w\(i)") }
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: text, source: "three.yaml", priority: 0).job
        let status = try waitFor(client, job: job)
        #expect(status.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let film = dir.appendingPathComponent("film.mp4")
        _ = try client.fetch(job: job, to: film)
        #expect(try Data(contentsOf: film) == localFilm(text), "the farm's film differs from the local render")
        let spec = try JobSpec.parse(text, source: "t")
        let report = try FilmVerifier.verify(film: film, job: JobContext(spec: spec, geometry: TestCardEngine().geometry))
        #expect(report.passed, "\(report)")
        // Several workers took part.
        let workers = Set(status.attempts?.map(\.worker) ?? [])
        #expect(workers.count >= 2, "attempts by \(workers)")
        // With --release-intermediates, once the film is stored the segments' chunks, PCM and latents are deleted:
        // only the film is left.
        let artifacts = dir.appendingPathComponent("artifacts")
        let files = (FileManager.default.enumerator(atPath: artifacts.path)?.allObjects as? [String] ?? [])
            .filter { $0.contains("/") }  // "ab/abcd…": files, not their two-letter folders
        let filmHash = Digest.sha256(try Data(contentsOf: film))
        #expect(files.map { $0.split(separator: "/").last.map(String.init) } == [filmHash], "\(files)")
    }

    /// `fetch --otio/--split-shots` lays a farm job out as the coordinator planned it (its storyboard and grid, over
    /// `job_plan`), with or without `-o`; `inspect --job` measures the fetched film the same way.
    @Test func fetchWritesTheTimelineAndOneFilePerShot() throws {
        let text = Storyboards.threeShots()
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir.appendingPathComponent("data"))
        defer { farm.shutdown() }
        try farm.startCoordinator()
        try farm.startWorker(name: "w1", slots: 2)
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: text, source: "three.yaml", priority: 0).job
        #expect(try waitFor(client, job: job).jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let spec = try JobSpec.parse(text, source: "t")
        let layout = FilmLayout(spec: spec, plan: try JobContext(spec: spec, geometry: TestCardEngine().geometry).plan)

        // Without -o: the film is fetched to a temporary file, cut, and removed; the clips point at the shot files.
        let shots = dir.appendingPathComponent("shots"), timeline = dir.appendingPathComponent("t.otio")
        let fetched = try ProcessRunner.run(reelfarm, ["fetch", job, "--otio", timeline.path,
                                                       "--split-shots", shots.path, "--coordinator", farm.endpoint],
                                            timeout: 120)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: shots.path).sorted()
        #expect(files == layout.shots.map(FilmDelivery.shotFileName))
        let frames = try files.map {
            try FFprobe.streams(shots.appendingPathComponent($0)).first { $0.codecType == "video" }?.readFrames ?? 0
        }
        #expect(frames == layout.shots.map(\.frames.count))
        let otio = try String(contentsOf: timeline, encoding: .utf8)
        #expect(otio.contains("\"Clip.2\"") && otio.contains("shots/001-wide.mp4")
                && otio.contains("\"name\": \"push\""))

        // With -o: the film is kept and the clips point at it; inspect lays it out from the job.
        let film = dir.appendingPathComponent("film.mp4"), second = dir.appendingPathComponent("f.otio")
        let kept = try ProcessRunner.run(reelfarm, ["fetch", job, "-o", film.path, "--otio", second.path,
                                                    "--coordinator", farm.endpoint], timeout: 120)
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try String(contentsOf: second, encoding: .utf8).contains(film.standardizedFileURL.absoluteString))
        let inspect = try ProcessRunner.run(reelfarm, ["inspect", film.path, "--job", job,
                                                       "--coordinator", farm.endpoint], timeout: 120)
        #expect(inspect.status == 0 && inspect.stdout.contains("within the limits"),
                "\(inspect.stdout)\(inspect.stderr)")

        let unknown = try ProcessRunner.run(reelfarm, ["fetch", "jnope", "--otio", second.path,
                                                       "--coordinator", farm.endpoint], timeout: 60)
        #expect(unknown.status == 1 && unknown.stderr.contains("no job jnope"), "\(unknown.stderr)")
    }

    /// A job carries its images: once submitted, the submitter's files can go, and a restarted coordinator (which must
    /// plan the job again) still renders and assembles it, the film the same as the local render.
    @Test func aJobKeepsItsImagesAfterTheSubmittersFilesAreGone() throws {
        let dir = try temporaryDirectory()
        let shoot = dir.appendingPathComponent("shoot")
        try FileManager.default.createDirectory(at: shoot, withIntermediateDirectories: true)
        for (name, colour) in [("key.png", "orange"), ("grid.png", "teal")] {
            let made = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                             ["-v", "error", "-f", "lavfi", "-i", "color=c=\(colour):s=96x48", "-frames:v", "1",
                                              "-y", shoot.appendingPathComponent(name).path], timeout: 60)
            try #require(made.status == 0, "\(made.stderr)")
        }
        let text = Storyboards.threeShots().replacingOccurrences(
            of: "prompt: \"a short cut\"}", with: "prompt: \"a short cut\", keyframes: [{at: 0.1, image: key.png}]}")
            + "\nreferences: [grid.png]\n"
        let board = shoot.appendingPathComponent("board.yaml")
        try text.write(to: board, atomically: true, encoding: .utf8)
        let local = dir.appendingPathComponent("local.mp4")
        let rendered = try ProcessRunner.run(reelfarm, ["render", board.path, "-o", local.path, "--quiet"])
        try #require(rendered.status == 0, "\(rendered.stderr)")
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir.appendingPathComponent("data"))
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let submitted = try ProcessRunner.run(reelfarm, ["submit", board.path, "--coordinator", farm.endpoint], timeout: 60)
        try #require(submitted.status == 0, "\(submitted.stderr)")
        let job = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.removeItem(at: shoot)
        // A restart makes the coordinator plan the job again from what it stored.
        let endpoint = farm.endpoint
        farm.killCoordinator()
        try farm.startCoordinator(bind: endpoint)
        try farm.startWorker(name: "w1", slots: 2)
        let client = try FarmClient(endpoint: farm.endpoint)
        let status = try waitFor(client, job: job)
        #expect(status.jobs.first?.state == "done", "\(status.jobs.first?.error ?? "")\n\(farm.log("coordinator"))")
        #expect(try fetchedFilm(client, job: job, into: dir) == Data(contentsOf: local))
    }

    /// A metrics port already in use stops the coordinator at once, non-zero, naming the address (it once started
    /// without metrics and then ignored SIGTERM).
    @Test func aMetricsPortInUseStopsTheCoordinatorWithTheReason() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &size) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let out = try ProcessRunner.run(reelfarm, ["coordinator", "--data", try temporaryDirectory().path, "--bind", "tcp://127.0.0.1:*",
                                                   "--metrics", "127.0.0.1:\(port)"], timeout: 60)
        #expect(out.status != 0)
        #expect(out.stderr.contains("127.0.0.1:\(port)") && out.stderr.contains("already in use"), "\(out.stderr)")
    }

    @Test func aWorkerKilledMidTaskDoesNotStopTheJob() throws {
        let text = farmStoryboard
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let victim = try farm.startWorker(name: "victim", extra: ["--step-delay-ms", "150"])
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: text, source: "three.yaml", priority: 0).job
        // Wait until the victim is in the middle of a task, then kill it outright.
        let busy = try waitFor(client, job: job, seconds: 30) { r in
            r.tasks?.contains { $0.state == "running" && ($0.worker ?? "").hasPrefix("victim") && $0.step >= 1 } ?? false
        }
        let victimTask = try #require(busy.tasks?.first { $0.state == "running" })
        LocalFarm.signal(victim, SIGKILL)
        try farm.startWorker(name: "rescuer")
        let status = try waitFor(client, job: job)
        #expect(status.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let history = status.attempts?.filter { $0.key == victimTask.key } ?? []
        #expect(history.map(\.outcome) == ["lost", "done"], "attempts of \(victimTask.key): \(history)")
        #expect(history.last?.number == 2 && history.last?.worker.hasPrefix("rescuer") == true)
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(text))
    }

    @Test func sigtermDrainsAWorkerAfterItsRunningTask() throws {
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let worker = try farm.startWorker(name: "drainer", extra: ["--step-delay-ms", "300"])
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
        let busy = try waitFor(client, job: job, seconds: 30) { r in r.tasks?.contains { $0.state == "running" && $0.step >= 1 } ?? false }
        let task = try #require(busy.tasks?.first { $0.state == "running" })
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        #expect(worker.terminationStatus == 0)
        let after = try client.status(job: job)
        // The task it was running finished and was accepted before it left; nothing else was started on it.
        #expect(after.tasks?.first { $0.key == task.key }?.state == "done", "\(farm.log("drainer"))")
        #expect(after.attempts?.filter { $0.key == task.key }.map(\.outcome) == ["done"])
        // It said bye: the coordinator no longer lists it (well before the 3 s a silent worker would take).
        var listed = true
        for _ in 0..<20 where listed {
            listed = try client.workers().workers.contains { $0.name == "drainer" }
            if listed { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(!listed)
        #expect(farm.log("coordinator").contains("left (drained)"))
    }

    @Test func aCoordinatorKilledMidJobResumesWithoutRedoingFinishedWork() throws {
        let text = farmStoryboard
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let endpoint = farm.endpoint
        try farm.startWorker(name: "w1", extra: ["--step-delay-ms", "60"])
        try farm.startWorker(name: "w2", extra: ["--step-delay-ms", "60"])
        var client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: text, source: "three.yaml", priority: 0).job
        let before = try waitFor(client, job: job, seconds: 60) { ($0.jobs.first?.tasksDone ?? 0) >= 2 }
        farm.killCoordinator()
        let doneBefore = Set((before.tasks ?? []).filter { $0.state == "done" }.map(\.key))
        #expect(doneBefore.count >= 2)
        // Same data directory, same endpoint: the workers find the new coordinator by themselves.
        try farm.startCoordinator(bind: endpoint)
        client = try FarmClient(endpoint: endpoint)
        let status = try waitFor(client, job: job)
        #expect(status.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let attempts = status.attempts ?? []
        for key in doneBefore {
            #expect(attempts.filter { $0.key == key }.map(\.outcome) == ["done"], "\(key) ran again: \(attempts.filter { $0.key == key })")
        }
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(text))
    }

    /// A farm with CURVE and an authorized-keys list: the listed worker renders the film (the same bytes as one
    /// machine), a worker with an unlisted key never joins, and a client without the coordinator's key gets a
    /// clear error instead of an answer.
    @Test func anEncryptedFarmAdmitsListedKeysOnly() throws {
        let dir = try temporaryDirectory()
        let keys = dir.appendingPathComponent("keys")
        for name in ["w1", "intruder", "client"] {
            let made = try ProcessRunner.run(reelfarm, ["keys", "new", keys.appendingPathComponent(name).path])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let authorized = dir.appendingPathComponent("authorized")
        let listed = try ["w1", "client"].map { try CurveKeyPair.readKey(keys.appendingPathComponent("\($0).pub")) }
        try Data(("# peers\n" + listed.joined(separator: "\n") + "\n").utf8).write(to: authorized)
        let data = dir.appendingPathComponent("data")
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: data)
        defer { farm.shutdown() }
        try farm.startCoordinator(extra: ["--authorized-keys", authorized.path])
        let serverKeyFile = data.appendingPathComponent("curve/coordinator.pub")
        try farm.startWorker(name: "w1", extra: ["--coordinator-key", serverKeyFile.path, "--key", keys.appendingPathComponent("w1.key").path])
        let intruder = try farm.startWorker(name: "intruder", extra: ["--coordinator-key", serverKeyFile.path,
                                                                      "--key", keys.appendingPathComponent("intruder.key").path])
        // A worker holding a wrong coordinator key (another key pair's public half).
        let lost = try farm.startWorker(name: "lost", extra: ["--coordinator-key", keys.appendingPathComponent("client.pub").path,
                                                              "--key", keys.appendingPathComponent("w1.key").path])
        let security = CurveClientSecurity(serverKey: try CurveKeyPair.readKey(serverKeyFile),
                                           keys: try CurveKeyPair(secretKey: try CurveKeyPair.readKey(keys.appendingPathComponent("client.key"))))
        let client = try FarmClient(endpoint: farm.endpoint, security: security)
        let text = Storyboards.threeShots()
        let job = try client.submit(storyboard: text, source: "three.yaml", priority: 0).job
        let status = try waitFor(client, job: job)
        #expect(status.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        #expect(Set(status.attempts?.map(\.worker) ?? []).allSatisfy { $0.hasPrefix("w1") })
        #expect(try client.workers().workers.map(\.name) == ["w1"])
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(text))
        // Without the coordinator's key: refused inside libzmq, so the CLI times out and says what to check.
        let plain = try ProcessRunner.run(reelfarm, ["status", "--coordinator", farm.endpoint, "--timeout", "1"])
        #expect(plain.status != 0 && plain.stderr.contains("--coordinator-key"), "\(plain.stderr)")
        // With the key but an unlisted one of its own (a fresh key): no answer either.
        let unlisted = try ProcessRunner.run(reelfarm, ["status", "--coordinator", farm.endpoint, "--timeout", "1",
                                                        "--coordinator-key", serverKeyFile.path])
        #expect(unlisted.status != 0 && unlisted.stderr.contains("authorized"), "\(unlisted.stderr)")
        let allowed = try ProcessRunner.run(reelfarm, ["status", "--coordinator", farm.endpoint, "--coordinator-key", serverKeyFile.path,
                                                       "--key", keys.appendingPathComponent("client.key").path])
        #expect(allowed.status == 0 && allowed.stdout.contains(job), "\(allowed.stderr)")
        // Refusals are seen on both sides: the coordinator logs and counts the refused key, the refused worker says in
        // one line what to check, and both refused workers stop within 5 s of SIGTERM (a blocked send once hung them).
        #expect(farm.log("coordinator").contains("is not in the authorized keys"), "\(farm.log("coordinator"))")
        #expect((try client.workers().refused["handshake-key"] ?? 0) >= 1)
        #expect(farm.log("intruder").contains("refused this peer's key"), "\(farm.log("intruder"))")
        #expect(farm.log("lost").contains("--coordinator-key"), "\(farm.log("lost"))")
        for p in [intruder, lost] {
            LocalFarm.signal(p, SIGTERM, timeout: 5)
            let exited = if case .exited = p.termination { true } else { false }
            #expect(exited, "a refused worker did not stop within 5 s of SIGTERM: \(String(describing: p.termination))")
        }
    }

    /// The dispatch benchmark runs end to end on a small job and reports every figure (no timing is judged here).
    @Test func dispatchBenchmarkReportsItsFigures() throws {
        let out = try ProcessRunner.run(reelfarm, ["bench", "dispatch", "--shots", "20", "--segments", "5", "--workers", "2", "--slots", "8"])
        #expect(out.status == 0, "\(out.stderr)")
        for line in ["tasks              100 no-op segments", "dispatch rate", "ready → started", "raw ZeroMQ", "ratio", "coordinator loop"] {
            #expect(out.stdout.contains(line), "missing \(line) in \(out.stdout)")
        }
        let curve = try ProcessRunner.run(reelfarm, ["bench", "dispatch", "--shots", "10", "--segments", "3", "--workers", "2", "--curve"])
        #expect(curve.status == 0 && curve.stdout.contains("30 no-op segments") && curve.stdout.contains("CURVE on every socket"),
                "\(curve.stdout)\n\(curve.stderr)")
        let processes = try ProcessRunner.run(reelfarm, ["bench", "dispatch", "--shots", "10", "--segments", "3", "--workers", "2",
                                                         "--worker-processes"])
        #expect(processes.status == 0 && processes.stdout.contains("30 no-op segments") && processes.stdout.contains("dispatch rate"),
                "\(processes.stdout)\n\(processes.stderr)")
    }

    /// The liveness benchmark kills real worker processes and reports each figure (no timing is judged here).
    @Test func livenessBenchmarkReportsItsFigures() throws {
        let out = try ProcessRunner.run(reelfarm, ["bench", "liveness", "--kills", "2"], timeout: 120)
        #expect(out.status == 0, "\(out.stderr)")
        for line in ["kills              2 worker processes", "dead-after limit", "detection          min", "ratio"] {
            #expect(out.stdout.contains(line), "missing \(line) in \(out.stdout)")
        }
    }

    /// Refused clients all return, each saying why; the benchmark prints the figures (no timing is judged here).
    @Test func refusalBenchmarkReportsEveryClientReturning() throws {
        let out = try ProcessRunner.run(reelfarm, ["bench", "refusals", "--clients", "20"], timeout: 120)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("returned           20 of 20"), "\(out.stdout)")
        #expect(out.stdout.contains("ratio"), "\(out.stdout)")
    }

    @Test func aBadStoryboardIsRefusedWithTheFieldNamedAndNothingQueued() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let bad = farmStoryboard.replacingOccurrences(of: "duration: 2.1", with: "duration: 0")
        // Through the CLI: validated before anything is sent, exit 2.
        let file = try Storyboards.write(bad)
        let cli = try ProcessRunner.run(reelfarm, ["submit", file.path, "--coordinator", endpoint])
        #expect(cli.status == 2 && cli.stderr.contains("shots[1].duration"), "\(cli.stderr)")
        // Straight on the wire: refused by the coordinator itself.
        let client = try FarmClient(endpoint: endpoint)
        do {
            _ = try client.submit(storyboard: bad, source: "bad.yaml", priority: 0)
            Issue.record("a bad storyboard was accepted")
        } catch let FarmClient.ClientError.refused(r) {
            #expect(r.kind == .invalid && r.issues.contains { $0.contains("shots[1].duration") })
        }
        #expect(try client.status(job: nil).jobs.isEmpty)
    }
}
