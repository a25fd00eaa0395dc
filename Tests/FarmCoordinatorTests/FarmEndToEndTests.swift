import FarmCoordinator
import FarmCore
import FarmRender
import FarmTestCard
import FarmTesting
import FarmWire
import Foundation
import Testing

/// Real processes on 127.0.0.1: a coordinator and workers render what `reelfarm render` renders, byte for byte.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FarmEndToEndTests {
    @Test(arguments: [Schedule.chain, Schedule.anchored])
    func threeWorkersRenderTheSameFilmAsOneMachine(schedule: Schedule) throws {
        let text = Storyboards.threeShots(schedule: schedule)
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
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
        // Once the film is stored, the segments' chunks, PCM and latents are deleted: only the film is left.
        let artifacts = dir.appendingPathComponent("artifacts")
        let files = (FileManager.default.enumerator(atPath: artifacts.path)?.allObjects as? [String] ?? [])
            .filter { $0.contains("/") }  // "ab/abcd…": files, not their two-letter folders
        let filmHash = Digest.sha256(try Data(contentsOf: film))
        #expect(files.map { $0.split(separator: "/").last.map(String.init) } == [filmHash], "\(files)")
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
        try farm.startWorker(name: "intruder", extra: ["--coordinator-key", serverKeyFile.path,
                                                       "--key", keys.appendingPathComponent("intruder.key").path])
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
