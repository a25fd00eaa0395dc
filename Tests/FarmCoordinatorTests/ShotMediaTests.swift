@testable import FarmCoordinator
import FarmCore
import FarmTesting
import Foundation
import Testing

/// A shot to play as soon as its segments have finished, and each finished segment's first and last frames, through
/// the REST API of a real coordinator and worker; what comes back is read by ffprobe.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct ShotMediaTests {
    @Test func aShotPlaysOnceItsSegmentsHaveFinishedAndEachSegmentHasThumbnails() throws {
        let dir = try temporaryDirectory()
        let data = dir.appendingPathComponent("data")
        let (farm, port) = try dashboardFarm(data)
        defer { farm.shutdown() }
        // Slow steps: the short last shot ("cut", one segment of 7 frames, a chain of its own) ends seconds before
        // the two long ones, which are one chain of six segments on one slot at a time.
        try farm.startWorker(name: "slow", slots: 2, extra: ["--step-delay-ms", "250"])
        let csrf = ["X-Reelfarm-CSRF": "1", "Content-Type": "application/json"]
        let body = try JSONSerialization.data(withJSONObject: ["storyboard": farmStoryboard, "source": "three.yaml"])
        let created = try HTTPExchange.run(port: port, "POST", "/api/jobs", headers: csrf, body: body)
        let job = try #require(try created.json()["job"] as? String, "\(created.text)")

        func detail() throws -> (state: String, tasks: [String: String]) {
            let json = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)").json()
            let tasks = (json["tasks"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
                if let key = $1["key"] as? String { $0[key] = $1["state"] as? String }
            }
            return ((json["job"] as? [String: Any])?["state"] as? String ?? "", tasks)
        }
        func get(_ path: String) throws -> HTTPExchange { try HTTPExchange.run(port: port, "GET", path, seconds: 120) }
        func probe(_ exchange: HTTPExchange, _ name: String) throws -> [FFprobe.Stream] {
            let file = dir.appendingPathComponent(name)
            try exchange.body.write(to: file)
            return try FFprobe.streams(file)
        }

        // Before "cut" finishes its preview is refused with the count; an unknown shot is a 404.
        let early = try get("/api/jobs/\(job)/shots/push/preview")
        let earlyJSON = try early.json()
        #expect(early.status == 409 && earlyJSON["field"] as? String == "shot", "\(early.text)")
        #expect((earlyJSON["error"] as? String ?? "").contains("segments finished"), "\(early.text)")
        let unknown = try get("/api/jobs/\(job)/shots/nope/preview")
        let unknownJSON = try unknown.json()
        #expect(unknown.status == 404 && unknownJSON["field"] as? String == "shot", "\(unknown.text)")
        #expect((unknownJSON["error"] as? String ?? "").contains("wide, push, cut"), "\(unknown.text)")

        var now = try detail()
        let deadline = Date().addingTimeInterval(180)
        while now.tasks["cut/0"] != "done", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            now = try detail()
        }
        try #require(now.tasks["cut/0"] == "done")
        #expect(now.state == "running", "the job ended before its short shot could be previewed alone")
        #expect(now.tasks["push/0"] != "done", "\(now.tasks)")

        // "cut" plays while the job runs: its 7 frames with sound, assembled from its one segment.
        let cut = try get("/api/jobs/\(job)/shots/cut/preview")
        #expect(cut.status == 200 && cut.headers["content-type"] == "video/mp4", "\(cut.text.prefix(300))")
        #expect(cut.headers["x-reelfarm-preview"] == "shot")
        let cutStreams = try probe(cut, "cut-running.mp4")
        #expect(cutStreams.first { $0.codecType == "video" }?.readFrames == 7)
        let cutAudio = cutStreams.first { $0.codecType == "audio" }
        #expect(cutAudio?.codecName == "aac" && abs((cutAudio?.duration ?? 0) - 7.0 / 24.0) < 0.03, "\(cutStreams)")
        // By index too, and by byte range.
        #expect(try get("/api/jobs/\(job)/shots/2/preview").body == cut.body)
        let range = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)/shots/cut/preview",
                                         headers: ["Range": "bytes=10-19"])
        #expect(range.status == 206 && range.body == cut.body[10 ..< 20])
        let stillRunning = try get("/api/jobs/\(job)/shots/push/preview")
        #expect(stillRunning.status == 409, "\(stillRunning.text)")

        // The workers page says what the worker runs now, and its memory.
        var running: [String] = []
        var memory = 0
        while running.isEmpty, Date() < deadline {
            let rows = try get("/api/workers").json()["workers"] as? [[String: Any]] ?? []
            let slow = rows.first { ($0["name"] as? String) == "slow" }
            running = slow?["tasks"] as? [String] ?? []
            memory = slow?["memory_bytes"] as? Int ?? 0
            if running.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(!running.isEmpty && running.allSatisfy { $0.hasPrefix(job + ":") }, "\(running)")
        #expect(memory > 0)

        // Its thumbnails: its first and last frames as PNG, 192 pixels wide (made just after it finished).
        var thumbnail = try get("/api/jobs/\(job)/thumbnail?segment=cut/0&frame=last")
        let madeBy = Date().addingTimeInterval(30)
        while thumbnail.status == 404, Date() < madeBy {
            Thread.sleep(forTimeInterval: 0.1)
            thumbnail = try get("/api/jobs/\(job)/thumbnail?segment=cut/0&frame=last")
        }
        #expect(thumbnail.status == 200 && thumbnail.headers["content-type"] == "image/png", "\(thumbnail.text)")
        let png = try probe(thumbnail, "cut-last.png").first
        #expect(png?.codecName == "png" && png?.width == 192 && png?.height == 114, "\(String(describing: png))")
        let first = try get("/api/jobs/\(job)/thumbnail?segment=cut/0")
        #expect(first.status == 200 && first.body != thumbnail.body)
        for (query, status, field) in [("segment=cut/0&frame=middle", 400, "frame"), ("frame=last", 400, "segment"),
                                       ("segment=nope/0", 404, "segment")] {
            let r = try get("/api/jobs/\(job)/thumbnail?\(query)")
            let field2 = try r.json()["field"] as? String
            #expect(r.status == status && field2 == field, "\(query): \(r.text)")
        }

        // Done: every shot is cut from the film (picture copied, sound from exactly its samples); the shots' frames
        // add up to the film's. Every segment has its thumbnails.
        while now.state != "done", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            now = try detail()
        }
        try #require(now.state == "done")
        var frames = 0
        for shot in ["wide", "push", "cut"] {
            let r = try get("/api/jobs/\(job)/shots/\(shot)/preview")
            #expect(r.status == 200, "\(shot): \(r.text.prefix(300))")
            let streams = try probe(r, "\(shot)-done.mp4")
            frames += streams.first { $0.codecType == "video" }?.readFrames ?? 0
            #expect(streams.contains { $0.codecType == "audio" && $0.codecName == "aac" }, "\(shot): \(streams)")
        }
        #expect(frames == 137)
        for key in now.tasks.keys where key.contains("/") {
            var r = try get("/api/jobs/\(job)/thumbnail?segment=\(key)&frame=first")
            while r.status == 404, Date() < madeBy.addingTimeInterval(30) {
                Thread.sleep(forTimeInterval: 0.1)
                r = try get("/api/jobs/\(job)/thumbnail?segment=\(key)&frame=first")
            }
            #expect(r.status == 200, "\(key): \(r.text)")
        }

        // Deleted: its thumbnails go with it.
        let folder = data.appendingPathComponent("thumbnails").appendingPathComponent(job)
        #expect(FileManager.default.fileExists(atPath: folder.path))
        #expect(try HTTPExchange.run(port: port, "POST", "/api/jobs/\(job)/delete", headers: csrf).status == 200)
        let goneBy = Date().addingTimeInterval(30)
        while FileManager.default.fileExists(atPath: folder.path), Date() < goneBy { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!FileManager.default.fileExists(atPath: folder.path))
    }
}
