@testable import FarmCoordinator
import FarmCore
import FarmStore
import FarmTesting
import FarmWire
import Foundation
import Testing
import Yams

/// The coordinator's HTTP service: the REST API against the OpenAPI document, access control, and a job driven
/// through the API alone on a real coordinator and worker.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct DashboardTests {
    /// Every route the server registers is in the OpenAPI document with the same method, and every operation the
    /// document describes is a route; the document is well formed (OpenAPI 3, every operation answers, every `$ref`
    /// resolves).
    @Test func theRoutesAreTheOpenAPIDocument() throws {
        let document = try #require(try Yams.load(yaml: DashboardService.openAPIDocument) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let info = try #require(document["info"] as? [String: Any])
        #expect(info["title"] is String && info["version"] is String)
        let paths = try #require(document["paths"] as? [String: Any])
        var described = Set<String>()
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any], "\(path)")
            for (method, operation) in operations where ["get", "post", "put", "patch", "delete"].contains(method) {
                described.insert("\(method.uppercased()) \(path)")
                let op = try #require(operation as? [String: Any], "\(method) \(path)")
                let responses = try #require(op["responses"] as? [String: Any], "\(method) \(path) has no responses")
                #expect(!responses.isEmpty)
                // Path parameters in the template are declared (directly or by reference).
                for name in path.split(separator: "/").filter({ $0.hasPrefix("{") }) {
                    let declared = (op["parameters"] as? [[String: Any]] ?? []).contains {
                        ($0["name"] as? String) == String(name.dropFirst().dropLast())
                            || ["#/components/parameters/JobId", "#/components/parameters/WorkerId"]
                                .contains($0["$ref"] as? String ?? "")
                    }
                    #expect(declared, "\(method) \(path) does not declare \(name)")
                }
            }
        }
        let registered = Set(DashboardService.routes.map { "\($0.method) \($0.pattern)" })
        let undocumented = registered.subtracting(described), unserved = described.subtracting(registered)
        #expect(undocumented.isEmpty, "routes missing from openapi.yaml: \(undocumented)")
        #expect(unserved.isEmpty, "documented but not served: \(unserved)")
        #expect(registered.count == DashboardService.routes.count, "a route is registered twice")
        // Every reference points at something in the document.
        for ref in Self.references(in: document) {
            var node: Any? = document
            for key in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(key)] }
            #expect(node != nil, "\(ref) does not resolve")
        }
    }

    /// The structural check above must be able to fail: a route the document lacks is caught.
    @Test func theRouteCheckCatchesAnUndocumentedRoute() throws {
        let document = try #require(try Yams.load(yaml: DashboardService.openAPIDocument) as? [String: Any])
        var paths = try #require(document["paths"] as? [String: Any])
        paths["/api/jobs/{id}/cancel"] = nil
        let described = Set(paths.flatMap { path, item in
            ((item as? [String: Any]) ?? [:]).keys.map { "\($0.uppercased()) \(path)" }
        })
        let registered = Set(DashboardService.routes.map { "\($0.method) \($0.pattern)" })
        #expect(registered.subtracting(described) == ["POST /api/jobs/{id}/cancel"])
    }

    private static func references(in node: Any) -> [String] {
        if let map = node as? [String: Any] {
            return map.flatMap { key, value in key == "$ref" ? [value as? String ?? "?"] : references(in: value) }
        }
        if let list = node as? [Any] { return list.flatMap(references(in:)) }
        return []
    }

    /// Bound beyond loopback the server refuses to start without a token (the command exits, naming the flag);
    /// with a token every route and page refuses a request without it (or with a wrong one), and accepts the token as
    /// a bearer header or as the cookie a browser gets from `/?token=`. POSTs also need the CSRF header; a foreign
    /// Host is refused on loopback.
    @Test func aTokenProtectedServerRefusesEveryRouteWithoutTheToken() throws {
        let (coordinator, _) = try inProcessCoordinator(try temporaryDirectory())
        #expect(throws: DashboardSetupError.self) {
            _ = try DashboardService(host: "0.0.0.0", port: 0, token: nil, coordinator: coordinator)
        }
        #expect(throws: DashboardSetupError.self) {
            _ = try DashboardService(host: "127.0.0.1", port: 0, token: "short", coordinator: coordinator)
        }
        coordinator.stop()
        coordinator.wait()
        let open = try ProcessRunner.run(reelfarm, ["coordinator", "--data", try temporaryDirectory().path, "--bind",
                                                    "tcp://127.0.0.1:*", "--http", "0.0.0.0:0"], timeout: 60)
        #expect(open.status != 0 && open.stderr.contains("--http-token-file"), "\(open.stderr)")

        let token = "s3cret-token-0123456789"
        let dir = try temporaryDirectory()
        let tokenFile = dir.appendingPathComponent("token")
        try (token + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
        let (farm, port) = try dashboardFarm(dir.appendingPathComponent("data"), extra: ["--http-token-file", tokenFile.path])
        defer { farm.shutdown() }
        var refusals: [String] = []
        for route in DashboardService.routes {
            let path = route.pattern.replacingOccurrences(of: "{id}", with: "j0")
            let csrf = ["X-Reelfarm-CSRF": "1"]
            for headers in [csrf, csrf.merging(["Authorization": "Bearer wrong-token-0123456789"]) { a, _ in a },
                            csrf.merging(["Cookie": "reelfarm_token=nope"]) { a, _ in a }] {
                let r = try HTTPExchange.run(port: port, route.method, path, headers: headers, seconds: 30,
                                             until: { !$0.isEmpty })
                if r.status != 401 || r.headers["www-authenticate"] == nil {
                    refusals.append("\(route.method) \(path) \(headers): \(r.status)")
                }
            }
        }
        #expect(refusals.isEmpty, "answered without the token: \(refusals)")
        let bearer = ["Authorization": "Bearer \(token)"]
        let page = try HTTPExchange.run(port: port, "GET", "/", headers: bearer)
        let cookie = try HTTPExchange.run(port: port, "GET", "/?token=\(token)")
        let withCookie = try HTTPExchange.run(port: port, "GET", "/app.js",
                                              headers: ["Cookie": "reelfarm_token=\(token)"])
        let noCSRF = try HTTPExchange.run(port: port, "POST", "/api/jobs/j0/cancel", headers: bearer)
        let withCSRF = try HTTPExchange.run(port: port, "POST", "/api/jobs/j0/cancel",
                                            headers: bearer.merging(["X-Reelfarm-CSRF": "1"]) { a, _ in a })
        let foreignOrigin = try HTTPExchange.run(port: port, "POST", "/api/jobs/j0/cancel", headers: bearer.merging(
            ["X-Reelfarm-CSRF": "1", "Origin": "http://evil.example"]) { a, _ in a })
        let foreignHost = try HTTPExchange.run(port: port, "GET", "/api/farm",
                                               headers: bearer.merging(["Host": "evil.example"]) { a, _ in a })
        #expect(cookie.headers["set-cookie"]?.hasPrefix("reelfarm_token=\(token);") == true)
        // The cancel with everything right reaches the loop: no job j0 there.
        let answers: [Int] = [page.status, cookie.status, withCookie.status, noCSRF.status, withCSRF.status,
                              foreignOrigin.status, foreignHost.status]
        #expect(answers == [200, 303, 200, 403, 404, 403, 403])
    }

    /// Over ZeroMQ too (the CLI), a prefix only one job's id starts with names it; an ambiguous one is refused with
    /// the candidates, counted as the client's mistake; the reply carries the whole id.
    @Test func aJobIdPrefixNamesAJobOverZeroMQ() async throws {
        let (coordinator, endpoint) = try inProcessCoordinator(try temporaryDirectory())
        defer { coordinator.stop(); coordinator.wait() }
        try await offPool {
            let client = try FarmClient(endpoint: endpoint)
            let first = try client.submit(storyboard: farmStoryboard, source: "a.yaml", priority: 0).job
            let second = try client.submit(storyboard: farmStoryboard, source: "b.yaml", priority: 0).job
            // The shortest prefix of `first` that `second` does not share.
            let common = zip(first, second).prefix { $0 == $1 }.count
            let prefix = String(first.prefix(common + 1))
            #expect(try client.status(job: prefix).jobs.map(\.id) == [first])
            #expect(try client.cancel(job: prefix).job == first)
            do {
                _ = try client.status(job: String(first.prefix(common)))
                Issue.record("an ambiguous prefix was answered")
            } catch let FarmClient.ClientError.refused(refusal) {
                #expect(refusal.kind == .invalid && refusal.message.contains(first) && refusal.message.contains(second),
                        "\(refusal.message)")
            }
            #expect(throws: FarmClient.ClientError.self) { _ = try client.status(job: "nope") }
        }
    }

    /// A worker disabled from the dashboard gets no task (the job says why it waits) and shows as disabled; enabled,
    /// it gets the job's tasks.
    @Test func aDisabledWorkerGetsNoTaskUntilEnabled() throws {
        let (farm, port) = try dashboardFarm(try temporaryDirectory())
        defer { farm.shutdown() }
        let endpoint = farm.endpoint
        let csrf = ["X-Reelfarm-CSRF": "1"]
        let peer = try RawPeer(endpoint)
        try peer.send(WireMessage(.hello, Hello(name: "p", engines: ["testcard"], device: "cpu", slots: 2,
                                                memoryBytes: 1 << 30, maxFramePixels: 1 << 22, tags: [],
                                                running: [])))
        let id = try #require(try peer.next([.welcome])).payload(Welcome.self).workerId
        typealias Seen = (HTTPExchange, Int, String?, String)
        let (disabled, unknown, waiting, listed) = try peer.beating { () throws -> Seen in
            let disabled = try HTTPExchange.run(port: port, "POST", "/api/workers/\(id)/disable", headers: csrf)
            let unknown = try HTTPExchange.run(port: port, "POST", "/api/workers/nobody/disable",
                                               headers: csrf).status
            let client = try FarmClient(endpoint: endpoint)
            let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
            let waiting = try client.status(job: job).jobs.first?.waiting
            return (disabled, unknown, waiting, try HTTPExchange.run(port: port, "GET", "/api/workers").text)
        }
        #expect(try disabled.status == 200 && (disabled.json()["state"] as? String) == "disabled",
                "\(disabled.text)")
        #expect(unknown == 404)
        #expect(waiting == "every connected worker is draining or disabled", "\(waiting ?? "nil")")
        #expect(listed.contains("\"state\":\"disabled\""), "\(listed)")
        #expect(try peer.next([.assign], seconds: 0.3) == nil)
        let enabled = try HTTPExchange.run(port: port, "POST", "/api/workers/\(id)/enable", headers: csrf)
        #expect(try enabled.status == 200 && (enabled.json()["state"] as? String) == "alive", "\(enabled.text)")
        #expect(try peer.next([.assign], seconds: 10) != nil)
    }

    /// A job submitted, watched, fetched (whole and by range) and deleted through the REST API alone, with a real
    /// test-card worker; a broken storyboard is answered with its issues by field and line; a short id prefix
    /// names a job, an ambiguous one lists the candidates; the event stream carries snapshots.
    /// `drain` from the dashboard: the worker takes no new task, finishes the one it runs (not handed back), says
    /// bye and exits 0; an unknown worker is a 404.
    @Test func aDrainedWorkerFinishesItsTaskAndLeaves() throws {
        let dir = try temporaryDirectory()
        let (farm, port) = try dashboardFarm(dir.appendingPathComponent("data"))
        defer { farm.shutdown() }
        let csrf = ["X-Reelfarm-CSRF": "1"]
        let worker = try farm.startWorker(name: "leaver", slots: 1, extra: ["--step-delay-ms", "150"])
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
        var id: String?
        let deadline = Date().addingTimeInterval(60)
        while id == nil, Date() < deadline {
            let rows = try HTTPExchange.run(port: port, "GET", "/api/workers").json()["workers"] as? [[String: Any]]
            id = rows?.first { ($0["busy"] as? Int ?? 0) > 0 }?["id"] as? String
            if id == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let busy = try #require(id, "the worker never ran a task")
        #expect(try HTTPExchange.run(port: port, "POST", "/api/workers/nobody/drain", headers: csrf).status == 404)
        let drained = try HTTPExchange.run(port: port, "POST", "/api/workers/\(busy)/drain", headers: csrf)
        #expect(try drained.status == 200 && (drained.json()["state"] as? String) == "leaving", "\(drained.text)")
        let gone = Date().addingTimeInterval(90)
        while worker.isRunning, Date() < gone { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!worker.isRunning, "the drained worker did not exit")
        if worker.isRunning { LocalFarm.signal(worker, SIGKILL) }
        #expect(worker.terminationStatus == 0)
        #expect(farm.log("leaver").contains("asked this worker to leave"))
        #expect(farm.log("coordinator").contains("worker \(busy) left (drained)"), "\(farm.log("coordinator"))")
        // Its task ended done, none handed back; nothing ran on it after the drain.
        let attempts = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)").json()["attempts"] as? [[String: Any]]
        let outcomes = (attempts ?? []).filter { $0["worker"] as? String == busy }.compactMap { $0["outcome"] as? String }
        #expect(outcomes.contains("done") && !outcomes.contains("handed-back") && !outcomes.contains("lost"),
                "\(outcomes)")
    }

    /// A worker disabled from the dashboard is still disabled after the coordinator restarts.
    @Test func aDisabledWorkerStaysDisabledAcrossARestart() throws {
        let dir = try temporaryDirectory()
        let (farm, port) = try dashboardFarm(dir.appendingPathComponent("data"))
        defer { farm.shutdown() }
        // The same worker process (its instance) keeps its id across connections.
        let hello = WireMessage(.hello, Hello(name: "p", engines: ["testcard"], device: "cpu", slots: 1,
                                              memoryBytes: 1 << 30, maxFramePixels: 1 << 22, tags: [], running: [],
                                              instance: String(repeating: "ab", count: 8)))
        let peer = try RawPeer(farm.endpoint)
        try peer.send(hello)
        let id = try #require(try peer.next([.welcome])).payload(Welcome.self).workerId
        let disabled = try HTTPExchange.run(port: port, "POST", "/api/workers/\(id)/disable",
                                            headers: ["X-Reelfarm-CSRF": "1"])
        #expect(disabled.status == 200)
        farm.killCoordinator()
        try farm.startCoordinator(extra: ["--http", "127.0.0.1:0"], timeout: 60)
        let again = try RawPeer(farm.endpoint)
        try again.send(hello)
        #expect(try again.next([.welcome])?.payload(Welcome.self).workerId == id)
        let client = try FarmClient(endpoint: farm.endpoint)
        let row = try client.workers().workers.first { $0.id == id }
        #expect(row?.state == "disabled", "\(String(describing: row))")
        _ = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0)
        #expect(try again.next([.assign], seconds: 1) == nil, "a disabled worker got a task after the restart")
    }

    @Test func aJobThroughTheRESTAPI() throws {
        let dir = try temporaryDirectory()
        let (farm, port) = try dashboardFarm(dir.appendingPathComponent("data"))
        defer { farm.shutdown() }
        let endpoint = farm.endpoint
        // Slowed a little, so that the timeline shows its attempts while they run.
        try farm.startWorker(name: "honest", slots: 2, extra: ["--step-delay-ms", "60"])
        let text = farmStoryboard
        do {
            let csrf = ["X-Reelfarm-CSRF": "1", "Content-Type": "application/json"]
            func submit(_ storyboard: String, priority: Int = 0) throws -> HTTPExchange {
                let body = try JSONSerialization.data(withJSONObject: ["storyboard": storyboard, "priority": priority,
                                                                       "source": "three.yaml"])
                return try HTTPExchange.run(port: port, "POST", "/api/jobs", headers: csrf, body: body)
            }
            let bad = try submit(text.replacingOccurrences(of: "duration: 3.3", with: "duration: -1"))
            #expect(bad.status == 400)
            let issues = try bad.json()["issues"] as? [String] ?? []
            #expect(issues.contains { $0.contains("duration") && $0.contains("line") }, "\(bad.text)")
            #expect(try bad.json()["field"] as? String == "storyboard")
            let notJSON = try HTTPExchange.run(port: port, "POST", "/api/jobs", headers: csrf, body: Data("{".utf8))
            #expect(try notJSON.status == 400 && (notJSON.json()["field"] as? String) == "body")
            let missingImage = try submit(text.replacingOccurrences(
                of: "prompt: \"a short cut\"", with: "prompt: \"a short cut\", keyframes: [{at: 0, image: key.png}]"))
            #expect(try missingImage.status == 400 && (missingImage.json()["field"] as? String) == "images",
                    "\(missingImage.text)")

            // An upload over the limit is refused from its header, before its body is read.
            let huge = try HTTPExchange.run(port: port, "POST", "/api/jobs",
                                            headers: csrf.merging(["Content-Length": "\(64 << 20)"]) { _, b in b })
            #expect(try huge.status == 413 && (huge.json()["field"] as? String) == "body", "\(huge.text)")
            let yaml = try HTTPExchange.run(port: port, "POST", "/api/jobs", headers: ["X-Reelfarm-CSRF": "1",
                                            "Content-Type": "application/xml"], body: Data("<a/>".utf8))
            #expect(yaml.status == 415)

            let created = try submit(text)
            #expect(created.status == 201, "\(created.text)")
            let job = try #require(try created.json()["job"] as? String)
            // The listing shows it at once (the loop publishes before it answers a change).
            let listing = try HTTPExchange.run(port: port, "GET", "/api/jobs")
            #expect(listing.status == 200 && listing.text.contains(job))

            // A unique prefix names the job; "j" is ambiguous once there are two.
            let prefix = String(job.prefix(6))
            let detail = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(prefix)")
            #expect(try detail.status == 200 && ((detail.json()["job"] as? [String: Any])?["id"] as? String) == job)
            let other = try #require(try submit(text, priority: -5).json()["job"] as? String)
            let ambiguous = try HTTPExchange.run(port: port, "GET", "/api/jobs/j")
            #expect(ambiguous.status == 409)
            #expect(Set(try ambiguous.json()["candidates"] as? [String] ?? []).isSuperset(of: [job, other]))
            let reprioritized = try HTTPExchange.run(port: port, "POST", "/api/jobs/\(other)/priority", headers: csrf,
                                                     body: Data(#"{"priority": 7}"#.utf8))
            #expect(try reprioritized.status == 200 && (reprioritized.json()["priority"] as? Int) == 7,
                    "\(reprioritized.text)")
            let badPriority = try HTTPExchange.run(port: port, "POST", "/api/jobs/\(other)/priority", headers: csrf,
                                                   body: Data(#"{"priority": "high"}"#.utf8))
            #expect(try badPriority.status == 400 && (badPriority.json()["field"] as? String) == "priority")
            #expect(try HTTPExchange.run(port: port, "POST", "/api/jobs/\(other)/cancel", headers: csrf).status == 200)

            // Pages and filters of the listing; `total` counts what the filter admits.
            func page(_ query: String) throws -> (ids: [String], total: Int?) {
                let r = try HTTPExchange.run(port: port, "GET", "/api/jobs?\(query)")
                #expect(r.status == 200, "\(query): \(r.text)")
                let jobs = try r.json()["jobs"] as? [[String: Any]] ?? []
                return (jobs.compactMap { $0["id"] as? String }, try r.json()["total"] as? Int)
            }
            let cancelledOnly = try page("state=cancelled")
            #expect(cancelledOnly.ids == [other] && cancelledOnly.total == 1)
            #expect(try page("limit=1").ids == [job] && page("limit=1").total == 2)
            #expect(try page("offset=1&limit=1").ids == [other])
            #expect(try page("offset=5").ids.isEmpty)
            for bad in ["state=bogus", "limit=0", "offset=-1", "limit=x"] {
                let r = try HTTPExchange.run(port: port, "GET", "/api/jobs?\(bad)")
                let field = try r.json()["field"] as? String
                #expect(r.status == 400 && field == String(bad.prefix { $0 != "=" }), "\(bad): \(r.text)")
            }

            // Watched until done, through the API; meanwhile the timeline shows its attempts while they run (from
            // the coordinator's leases: the store keeps attempts once they end).
            var state = ""
            var sawRunning = false
            let deadline = Date().addingTimeInterval(180)
            while Date() < deadline {
                let r = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)")
                state = (try r.json()["job"] as? [String: Any])?["state"] as? String ?? ""
                if ["done", "failed", "cancelled"].contains(state) { break }
                let open = try HTTPExchange.run(port: port, "GET", "/api/timeline?seconds=600").json()["attempts"]
                sawRunning = sawRunning || (open as? [[String: Any]] ?? []).contains {
                    $0["job"] as? String == job && $0["ended_at"] == nil && ($0["worker"] as? String)?.hasPrefix("honest") == true
                        && $0["started_at"] is Double
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(state == "done")
            #expect(sawRunning, "the timeline never showed a running attempt")
            let full = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)")
            let attempts = try full.json()["attempts"] as? [[String: Any]] ?? []
            #expect(!attempts.isEmpty && attempts.allSatisfy {
                $0["outcome"] as? String == "done" && $0["ended_at"] is Double && $0["started_at"] is Double
                    && ($0["worker"] as? String)?.hasPrefix("honest") == true
            })

            // The film, whole and by range, is the one the ZeroMQ client fetches.
            let film = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(prefix)/film", seconds: 60)
            #expect(film.status == 200 && film.headers["content-type"] == "video/mp4")
            let fetched = try fetchedFilm(try FarmClient(endpoint: endpoint), job: job, into: dir)
            #expect(film.body == fetched)
            let range = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)/film",
                                             headers: ["Range": "bytes=100-199"])
            #expect(range.status == 206 && range.body == fetched[100 ..< 200])
            #expect(range.headers["content-range"] == "bytes 100-199/\(fetched.count)")
            let beyond = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)/film",
                                              headers: ["Range": "bytes=\(fetched.count)-"])
            #expect(beyond.status == 416)
            // Once done, the player's preview is the film itself.
            let preview = try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)/preview", seconds: 60)
            #expect(preview.status == 200 && preview.headers["x-reelfarm-preview"] == "film" && preview.body == fetched)

            // The timeline and the workers show the worker; the event stream carries a snapshot.
            let timeline = try HTTPExchange.run(port: port, "GET", "/api/timeline?seconds=3600")
            #expect(timeline.status == 200 && timeline.text.contains(job))
            #expect(try HTTPExchange.run(port: port, "GET", "/api/timeline?seconds=0").status == 400)
            let workers = try HTTPExchange.run(port: port, "GET", "/api/workers")
            #expect(workers.status == 200 && workers.text.contains("honest"))
            let events = try HTTPExchange.run(port: port, "GET", "/api/events", seconds: 10) {
                String(decoding: $0, as: UTF8.self).contains("\n\n", after: "event: snapshot")
            }
            #expect(events.headers["content-type"] == "text/event-stream" && events.text.contains("event: snapshot"))
            #expect(events.text.contains(job))

            // Actions the job's state does not allow are conflicts; delete ends it.
            #expect(try HTTPExchange.run(port: port, "POST", "/api/jobs/\(job)/cancel", headers: csrf).status == 409)
            #expect(try HTTPExchange.run(port: port, "POST", "/api/jobs/\(job)/delete", headers: csrf).status == 200)
            #expect(try HTTPExchange.run(port: port, "GET", "/api/jobs/\(job)").status == 404)
            #expect(try HTTPExchange.run(port: port, "GET", "/api/nope").status == 404)
            #expect(try HTTPExchange.run(port: port, "DELETE", "/api/jobs").status == 405)
        }
    }
}

extension String {
    /// Whether `needle` occurs after the first `marker`.
    fileprivate func contains(_ needle: String, after marker: String) -> Bool {
        guard let m = range(of: marker) else { return false }
        return self[m.upperBound...].contains(needle)
    }
}
