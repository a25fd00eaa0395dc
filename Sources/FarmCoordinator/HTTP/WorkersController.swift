import FarmWire
import FlyingFox
import Foundation

/// `/api/workers` (paged, like `reelfarm workers`), `/api/farm` (the farm's numbers) and `/api/timeline` (recent
/// attempts of every job, for the Gantt chart by worker).
struct WorkersController {
    let link: DashboardLink
    let documents: SnapshotDocuments
    let reads: JobReads?

    func addRoutes(to router: inout Router) {
        router.add("GET", "/api/workers") { r in
            let offset = try r.query("offset", in: 0...Int(Int32.max), fallback: 0)
            // The first page is in the snapshot; later ones are read by the loop.
            if offset == 0 { return JSONResponse.ok(try await documents.latest().workers) }
            return JSONResponse.ok(try await ask { try $0.workersPage(JobQuery(job: nil, offset: offset)) })
        }
        for (action, enabled) in [("disable", false), ("enable", true)] {
            router.add("POST", "/api/workers/{id}/\(action)") { r in
                let id = try r.parameter("id")
                do {
                    let state = try await link.inbox.ask(changes: true) { try $0.setWorker(id, enabled: enabled) }
                    return JSONResponse.ok(state)
                } catch { throw APIError.from(error) }
            }
        }
        router.add("POST", "/api/workers/{id}/drain") { r in
            let id = try r.parameter("id")
            do {
                return JSONResponse.ok(try await link.inbox.ask(changes: true) { try $0.drainWorker(id) })
            } catch { throw APIError.from(error) }
        }
        router.add("GET", "/api/farm") { _ in
            JSONResponse.ok(SnapshotDocuments.Farm(try await documents.latest().gauges))
        }
        router.add("GET", "/api/timeline") { r in
            let seconds = try r.query("seconds", in: 1...604_800, fallback: 600)
            let limit = try r.query("limit", in: 1...20_000, fallback: 5_000)
            guard let reads else { throw APIError(.notFound, "the timeline is off") }
            do {
                let timeline = try await reads.timeline(seconds: Double(seconds), limit: limit)
                return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                                    body: TimelineJSON.encode(timeline))
            } catch {
                throw APIError.from(error)
            }
        }
    }

    private func ask<T: Sendable>(_ body: @escaping @Sendable (Coordinator) throws -> T) async throws -> T {
        do { return try await link.inbox.ask(body) } catch { throw APIError.from(error) }
    }
}
