import FarmCoordinator
import FarmCore
import FarmWire
import Foundation
import Testing

/// The coordinator assembles a job's film as the prefix of finished segments grows, so that only the tail is left
/// when the last one lands; the film is the one `reelfarm render` makes, whichever way it was assembled.
extension CoordinatorProtocolTests {
    /// The working files of films in progress (`DATA/assembly`).
    func workingFiles(_ dir: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("assembly").path)) ?? []
    }

    /// The first `count` assignments `peer` receives, by segment key.
    func assignments(_ peer: RawPeer, count: Int) throws -> [String: WireMessage] {
        var assigns: [String: WireMessage] = [:]
        while assigns.count < count, let m = try peer.next([.assign]) {
            assigns[String(try m.payload(Assign.self).lease.task.split(separator: ":").last ?? "")] = m
        }
        return assigns
    }

    /// Segments finishing out of film order: each waits for those before it, and the film is the local render's.
    @Test func aFilmAssembledAsItsSegmentsLandIsTheLocalRender() throws {
        let dir = try temporaryDirectory()
        let log = LogLines()
        let (coordinator, endpoint) = try inProcessCoordinator(dir, log: log)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let three = Self.storyboard("three", shots: ["a", "b", "c"])
        let job = try client.submit(storyboard: three, source: "three.yaml", priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 3))
        let assigns = try assignments(peer, count: 3)
        for key in ["b/0", "a/0", "c/0"] {
            let assign = try #require(assigns[key], "no assignment for \(key)")
            for m in try peer.beating(while: { try self.answer(assign, inline: true) }) { try peer.send(m) }
        }
        let status = try waitFor(client, job: job, seconds: 30)
        #expect(status.jobs.first?.state == "done")
        #expect(log.all.contains { $0.contains("done: film") && $0.contains("assembled as its segments finished") },
                "\(log.all)")
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(three))
        #expect(workingFiles(dir).isEmpty)
    }

    /// A coordinator restarted mid-job lost the film in progress with its process: it builds it again from the
    /// segments the store holds, so the film is still finished as its segments land, and it is the same film.
    @Test func afterARestartTheFilmInProgressIsBuiltAgain() throws {
        let dir = try temporaryDirectory()
        let two = Self.storyboard("two", shots: ["a", "b"])
        let job: String
        do {
            let (coordinator, endpoint) = try inProcessCoordinator(dir)
            defer { coordinator.stop(); coordinator.wait() }
            let client = try FarmClient(endpoint: endpoint)
            job = try client.submit(storyboard: two, source: "two.yaml", priority: 0).job
            let peer = try RawPeer(endpoint)
            try peer.send(hello("p", slots: 2))
            let a = try #require(try assignments(peer, count: 2)["a/0"])
            for m in try peer.beating(while: { try self.answer(a, inline: true) }) { try peer.send(m) }
            _ = try waitFor(client, job: job, seconds: 10) { $0.tasks?.first { $0.key == "a/0" }?.state == "done" }
            #expect(eventually(seconds: 10) { workingFiles(dir).count == 1 }, "segment a/0 did not go into the film")
        }
        let log = LogLines()
        let (coordinator, endpoint) = try inProcessCoordinator(dir, log: log)
        defer { coordinator.stop(); coordinator.wait() }
        // Built again from a/0 before any worker is there.
        #expect(eventually(seconds: 10) { workingFiles(dir).count == 1 }, "the film in progress was not built again")
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p2"))
        let b = try #require(try peer.next([.assign]))
        for m in try peer.beating(while: { try self.answer(b, inline: true) }) { try peer.send(m) }
        let client = try FarmClient(endpoint: endpoint)
        #expect(try waitFor(client, job: job, seconds: 30).jobs.first?.state == "done")
        #expect(log.all.contains { $0.contains("done: film") && $0.contains("assembled as its segments finished") }, "\(log.all)")
        #expect(try fetchedFilm(client, job: job, into: dir) == localFilm(two))
        #expect(workingFiles(dir).isEmpty)
    }

    /// Cancelling a job drops its film in progress with its working file.
    @Test func cancellingAJobDeletesItsFilmInProgress() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let client = try FarmClient(endpoint: endpoint)
        let job = try client.submit(storyboard: Self.storyboard("two", shots: ["a", "b"]), source: "two.yaml",
                                    priority: 0).job
        let peer = try RawPeer(endpoint)
        try peer.send(hello("p", slots: 2))
        let a = try #require(try assignments(peer, count: 2)["a/0"])
        for m in try peer.beating(while: { try self.answer(a, inline: true) }) { try peer.send(m) }
        #expect(eventually(seconds: 10) { workingFiles(dir).count == 1 }, "segment a/0 did not go into the film")
        _ = try client.cancel(job: job)
        #expect(eventually(seconds: 10) { workingFiles(dir).isEmpty }, "the cancelled job's film is still there")
    }
}
