import FarmCoordinator
import FarmCore
import FarmStore
import FarmTesting
import FarmWire
import Foundation
import Testing

/// Draft before final, and each shot's first segment first: the order in which a one-slot worker is given tasks.
extension CoordinatorProtocolTests {
    /// Takes `count` tasks one at a time (each answered with the real test-card engine before the next comes) and
    /// returns their assignments in the order they came.
    func takeTasks(_ peer: RawPeer, count: Int) throws -> [Assign] {
        var taken: [Assign] = []
        for _ in 0 ..< count {
            guard let assign = try peer.next([.assign], seconds: 20) else { break }
            let a = try assign.payload(Assign.self)
            taken.append(a)
            // Heartbeats listing the lease go on while the engine runs: on a loaded machine an answer can outlast the
            // liveness limit.
            for m in try peer.beating(running: [a.lease], while: { try self.answer(assign, inline: true) }) { try peer.send(m) }
        }
        return taken
    }

    @Test func aDraftRunsWholeAheadOfItsFinalAtFewerStepsAndHalfSize() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let text = """
            title: film
            output: {width: 384, height: 128, fps: "24", sample_rate: 48000, channels: 1}
            model: {engine: testcard, window: 33, overlap: 9, steps: 4, seed: 3, schedule: chain, draft: {steps: 1, scale: 1/2}}
            shots: [{id: a, frames: 40, prompt: p}, {id: b, frames: 20, prompt: q}]
            """
        let spec = try JobSpec.parse(text, source: "film.yaml")
        let settings = try #require(spec.model.draft)
        #expect(settings == DraftSettings(steps: 1, scale: Rational(1, 2)))
        // What `reelfarm submit` does for a storyboard with model.draft.
        let draft = try client.submit(storyboard: text, source: "film.yaml", priority: 1, draft: settings)
        let final = try client.submit(storyboard: text, source: "film.yaml", priority: 0, revise: draft.job)
        #expect(final.reused == 0 && final.revision == 2 && final.film == draft.job, "\(final)")
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 1))
        let taken = try takeTasks(peer, count: draft.tasks + final.tasks)
        let jobs = taken.map { TaskKey(id: $0.lease.task)?.job ?? "?" }
        #expect(jobs == Array(repeating: draft.job, count: draft.tasks) + Array(repeating: final.job, count: final.tasks), "\(jobs)")
        for a in taken {
            let isDraft = a.lease.task.hasPrefix(draft.job)
            #expect(a.model.steps == (isDraft ? 1 : 4))
            #expect(a.segment?.format.width == (isDraft ? 192 : 384) && a.segment?.format.height == (isDraft ? 64 : 128))
        }
        for job in [draft.job, final.job] { #expect(try waitFor(client, job: job, seconds: 30).jobs.first?.state == "done") }
        let listed = try client.status(job: nil).jobs
        #expect(listed.map(\.title) == ["film (draft)", "film"] && listed.map(\.revision) == [1, 2])
        // Both films have the same frames and samples; the draft at its own size.
        for (job, size) in [(draft.job, (192, 64)), (final.job, (384, 128))] {
            let file = dir.appendingPathComponent("\(job).mp4")
            _ = try client.fetch(job: job, to: file)
            let streams = try FFprobe.streams(file)
            let video = try #require(streams.first { $0.codecType == "video" })
            #expect(video.width == size.0 && video.height == size.1 && video.readFrames == 60)
        }
        // Settings a draft cannot have are refused with the field named.
        #expect { _ = try JobSpec.parse(text.replacingOccurrences(of: "steps: 1, scale", with: "steps: 9, scale"), source: "f.yaml") }
            throws: { "\($0)".contains("model.draft.steps") }
        #expect { _ = try client.submit(storyboard: text, source: "f.yaml", priority: 0, draft: DraftSettings(steps: 1, scale: Rational(3, 2))) }
            throws: { "\($0)".contains("scale must be in (0, 1]") }
    }

    /// With `--preview-first` the first segment of every shot comes before the other segments: the queue's usual
    /// order (longest remaining path first) runs a long shot's whole chain before two short shots' starts.
    @Test(arguments: [true, false]) func previewFirstRunsEachShotsFirstSegmentFirst(previewFirst: Bool) throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let text = """
            title: one long shot, two short ones
            output: {width: 192, height: 64, fps: "24", sample_rate: 48000, channels: 1}
            model: {engine: testcard, window: 17, overlap: 5, steps: 1, seed: 3, schedule: chain}
            shots: [{id: long, frames: 60, prompt: p}, {id: a, frames: 12, prompt: q}, {id: b, frames: 12, prompt: r}]
            """
        _ = try client.submit(storyboard: text, source: "three.yaml", priority: 0, previewFirst: previewFirst)
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 1))
        let first = try takeTasks(peer, count: 3).map { TaskKey(id: $0.lease.task)?.key ?? "?" }
        if previewFirst {
            #expect(Set(first) == ["long/0", "a/0", "b/0"], "\(first)")
        } else {
            #expect(first.contains("long/1"), "\(first)")
        }
    }
}

extension CoordinatorProtocolTests {
    func hello(_ name: String, version: String) -> WireMessage {
        WireMessage(.hello, Hello(name: name, engines: ["testcard"], device: "cpu", slots: 1, memoryBytes: 1 << 30,
                                  maxFramePixels: 1 << 22, tags: [], running: [], versions: ["testcard": version]))
    }

    /// A finished task is reused only when the engine that made it is the identity its key names: a job keyed with
    /// `v2` but run by a worker declaring `v1` is not reused, a job run by `v2` is.
    @Test func onlyResultsOfTheKeyedEngineIdentityAreReused() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let text = Self.storyboard("film", shots: ["a", "b"])
        let old = try RawPeer(endpoint)
        try old.send(hello("old", version: "testcard v1"))
        _ = try old.next([.welcome])
        let new = try RawPeer(endpoint)
        try new.send(hello("new", version: "testcard v2"))  // the farm's engine is now v2
        _ = try new.next([.welcome])
        try new.send(WireMessage(.bye, Bye(reason: "gone")))
        Thread.sleep(forTimeInterval: 0.2)
        // Keyed v2, made by v1: done, and not reusable.
        let first = try client.submit(storyboard: text, source: "f.yaml", priority: 0)
        #expect(first.reused == 0)
        _ = try takeTasks(old, count: first.tasks)
        #expect(try waitFor(client, job: first.job, seconds: 30).jobs.first?.state == "done")
        let second = try client.submit(storyboard: text, source: "f.yaml", priority: 0)
        #expect(second.reused == 0, "a result of another engine identity was reused")
        // Made by v2 this time: the next job takes all of it.
        let current = try RawPeer(endpoint)
        try current.send(hello("current", version: "testcard v2"))
        try old.send(WireMessage(.bye, Bye(reason: "gone")))
        _ = try takeTasks(current, count: second.tasks)
        #expect(try waitFor(client, job: second.job, seconds: 30).jobs.first?.state == "done")
        let third = try client.submit(storyboard: text, source: "f.yaml", priority: 0)
        #expect(third.reused == third.tasks && third.tasks == 2, "\(third)")
        #expect(try waitFor(client, job: third.job, seconds: 30).jobs.first?.state == "done")
        #expect(try fetchedFilm(client, job: third.job, into: dir) == fetchedFilm(client, job: first.job, into: dir))
    }
}
