import FarmCoordinator
import FarmCore
import FarmTesting
import FarmWire
import FarmPosix
import Foundation
import Testing

/// Revisions of a storyboard on a real farm (processes on 127.0.0.1): a changed shot re-runs only its segments and
/// those that take context from them; the rest are reused, and the film is the one a from-scratch render makes.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct RevisionTests {
    /// Six shots with the Swift MMDiT (its picture and sound follow the prompt); `wake` continues `boat`, `sky`
    /// continues `gull`.
    static let sixShots = """
        title: six shots
        output: {width: 192, height: 64, fps: "24", sample_rate: 48000, channels: 2}
        model: {engine: mmdit, config: tiny, seed: 5, window: 17, overlap: 5, steps: 2, schedule: chain}
        shots:
          - {id: dawn, frames: 20, prompt: "first light over the harbour", sound: gulls}
          - {id: quay, frames: 12, prompt: "a fisherman coils rope on the quay"}
          - {id: boat, frames: 20, prompt: "a red boat leaves the harbour", sound: engine}
          - {id: wake, frames: 12, prompt: "the boat's wake spreads", transition: continue}
          - {id: gull, frames: 12, prompt: "a gull lands on a post", sound: wings}
          - {id: sky, frames: 12, prompt: "the gull takes off into the sky", transition: continue}
        """
    /// Shot 3's prompt changed.
    static let revised = sixShots.replacingOccurrences(of: "a red boat leaves the harbour", with: "a blue boat returns at dusk")
    /// What the revision must run: shot 3's segments and the continuation that takes its tail.
    static let changed: Set<String> = ["boat/0", "boat/1", "wake/0"]

    func waitForWorkers(_ client: FarmClient, count: Int) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let r = try? client.workers(), r.workers.filter({ $0.state == "alive" }).count >= count { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("\(count) workers did not register within 60 s")
    }

    @Test(arguments: [false, true])
    func aRevisedShotRerunsOnlyItsSegmentsAndTheirContinuations(killAWorker: Bool) throws {
        let dir = try temporaryDirectory("revision")
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let first = try farm.startWorker(name: "w1", slots: 2)
        let client = try FarmClient(endpoint: farm.endpoint)
        try waitForWorkers(client, count: 1)
        let original = try client.submit(storyboard: Self.sixShots, source: "six.yaml", priority: 0)
        #expect(original.reused == 0 && original.revision == 1)
        let done = try waitFor(client, job: original.job)
        try #require(done.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let originalFilm = try fetchedFilm(client, job: original.job, into: dir)
        #expect(originalFilm == (try localFilm(Self.sixShots)))

        var victim: ChildProcess?
        if killAWorker {
            // The revision starts on a slow worker that is killed in the middle of a task.
            LocalFarm.signal(first, SIGKILL)
            victim = try farm.startWorker(name: "victim", extra: ["--step-delay-ms", "400"])
        }

        // The revision through the CLI, which prints what is reused and what runs.
        let file = try Storyboards.write(Self.revised, name: "six.yaml")
        let submit = try ProcessRunner.run(reelfarm, ["submit", file.path, "--revise", original.job, "--coordinator", farm.endpoint],
                                           timeout: 60)
        try #require(submit.status == 0, "\(submit.stderr)")
        let revision = submit.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(submit.stderr.contains("revision 2 of \(original.job): 5 of 8 tasks reused, 3 to run"), "\(submit.stderr)")

        if let victim {
            let busy = try waitFor(client, job: revision, seconds: 60) { r in
                r.tasks?.contains { $0.state == "running" && ($0.worker ?? "").hasPrefix("victim") && $0.step >= 1 } ?? false
            }
            #expect(busy.tasks?.contains { $0.state == "running" } == true, "the victim never ran a task")
            LocalFarm.signal(victim, SIGKILL)
            try farm.startWorker(name: "rescuer", slots: 2)
        }
        let status = try waitFor(client, job: revision)
        try #require(status.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        let summary = try #require(status.jobs.first)
        #expect(summary.revision == 2 && summary.film == original.job && summary.reused == 5)

        // Only the changed shot and its continuation ran; every other task took the original's outputs.
        let tasks = status.tasks ?? []
        #expect(Set(tasks.filter { $0.reusedFrom == nil }.map(\.key)) == Self.changed, "\(tasks)")
        for t in tasks where t.reusedFrom != nil {
            #expect(t.reusedFrom == "\(original.job):\(t.key)" && t.attempts == 0, "\(t)")
        }
        let ran = Set((status.attempts ?? []).map(\.key))
        #expect(ran == Self.changed, "attempts in the revision: \(status.attempts ?? [])")
        if killAWorker {
            #expect(status.attempts?.contains { $0.outcome == "lost" && $0.worker.hasPrefix("victim") } == true,
                    "\(status.attempts ?? [])")
        }

        // The film is the one a from-scratch render of the revised storyboard makes, and not the original.
        let revisedFilm = try fetchedFilm(client, job: revision, into: dir)
        #expect(revisedFilm == (try localFilm(Self.revised)), "the revision's film differs from a from-scratch render")
        #expect(revisedFilm != originalFilm)

        // Both revisions are listed with their film and revision number.
        let all = try client.status(job: nil).jobs
        #expect(all.map(\.revision) == [1, 2] && all.allSatisfy { $0.film == original.job }, "\(all)")

        // Deleting the first revision keeps what the second reuses: the same storyboard again runs nothing and
        // assembles the same film from those stored segments.
        _ = try client.delete(job: original.job)
        let again = try client.submit(storyboard: Self.revised, source: "six.yaml", priority: 0, revise: revision)
        #expect(again.reused == 8 && again.revision == 3, "\(again)")
        let third = try waitFor(client, job: again.job)
        try #require(third.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        #expect(third.attempts?.isEmpty == true)
        #expect(try fetchedFilm(client, job: again.job, into: dir) == revisedFilm)
    }

    /// `--no-reuse` renders everything, and a revision of an unknown job is refused with the job named.
    @Test func noReuseRunsEverythingAndAnUnknownJobIsRefused() throws {
        let dir = try temporaryDirectory("revision")
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        try farm.startWorker(name: "w1", slots: 2)
        let client = try FarmClient(endpoint: farm.endpoint)
        try waitForWorkers(client, count: 1)
        let first = try client.submit(storyboard: Self.sixShots, source: "six.yaml", priority: 0)
        try #require(try waitFor(client, job: first.job).jobs.first?.state == "done")
        let fresh = try client.submit(storyboard: Self.sixShots, source: "six.yaml", priority: 0, reuse: false)
        #expect(fresh.reused == 0)
        let status = try waitFor(client, job: fresh.job)
        #expect(Set((status.attempts ?? []).map(\.key)).count == 8)
        #expect(try fetchedFilm(client, job: fresh.job, into: dir) == fetchedFilm(client, job: first.job, into: dir))
        let file = try Storyboards.write(Self.sixShots, name: "six.yaml")
        let out = try ProcessRunner.run(reelfarm, ["submit", file.path, "--revise", "jnosuchjob", "--coordinator", farm.endpoint],
                                        timeout: 60)
        #expect(out.status != 0 && out.stderr.contains("jnosuchjob") && out.stderr.contains("no such job"), "\(out.stderr)")
    }
}
