import FarmStore
import FarmWire
import FlyingFox
import Foundation

/// `/api/jobs…`: the listing (from the loop's snapshot), one job in full, its film, and the actions on it.
struct JobsController {
    let link: DashboardLink
    let documents: SnapshotDocuments
    let previews: PreviewCache?
    let reads: JobReads?

    func addRoutes(to router: inout Router) {
        router.add("GET", "/api/jobs") { r in
            let state = r.http.query["state"]
            if let state, JobState(rawValue: state) == nil {
                throw APIError(.badRequest, "must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))",
                               field: "state")
            }
            let offset = try r.query("offset", in: 0...Int(Int32.max), fallback: 0)
            let limit = r.http.query["limit"] == nil ? nil : try r.query("limit", in: 1...10_000, fallback: 0)
            return try await documents.jobsResponse(state: state, offset: offset, limit: limit)
        }
        router.add("GET", "/api/jobs/{id}") { r in
            guard let reads else { throw APIError(.notFound, "job details are off") }
            do { return JSONResponse.ok(try await reads.detail(try r.parameter("id"))) } catch {
                throw APIError.from(error)
            }
        }
        router.add("GET", "/api/jobs/{id}/film") { r in try await film(r) }
        router.add("GET", "/api/jobs/{id}/preview") { r in try await preview(r) }
        router.add("POST", "/api/jobs/{id}/cancel") { r in
            let id = try r.parameter("id")
            return JSONResponse.ok(try await ask(changes: true) { try $0.cancelled(JobQuery(job: id)) })
        }
        router.add("POST", "/api/jobs/{id}/retry") { r in
            let id = try r.parameter("id")
            return JSONResponse.ok(try await ask(changes: true) { try $0.retried(JobQuery(job: id)) })
        }
        router.add("POST", "/api/jobs/{id}/delete") { r in
            let id = try r.parameter("id")
            return JSONResponse.ok(try await ask(changes: true) { try $0.deleted(JobQuery(job: id)) })
        }
        router.add("POST", "/api/jobs/{id}/priority") { r in
            let id = try r.parameter("id")
            let body = try await r.body(limit: 4_096)
            let priority = try PriorityChange.parse(body)
            return JSONResponse.ok(try await ask(changes: true) { try $0.reprioritized(id, priority: priority) })
        }
    }

    /// Runs `body` on the loop; its errors become HTTP answers.
    private func ask<T: Sendable>(changes: Bool = false, _ body: @escaping @Sendable (Coordinator) throws -> T)
        async throws -> T {
        do { return try await link.inbox.ask(changes: changes, body) } catch { throw APIError.from(error) }
    }

    /// A done job's film, `video/mp4`, whole or the byte range asked for (so a browser can seek).
    private func film(_ r: Request) async throws -> HTTPResponse {
        let id = try r.parameter("id")
        let (job, file) = try await ask { try $0.filmFile(JobQuery(job: id)) }
        return try Self.serve(file, name: job, r)
    }

    /// What the player can play of a job: the film once done, else an MP4 of the contiguous prefix of finished
    /// segments (`X-Reelfarm-Preview: SEGMENTS/TOTAL`). With `?segments=N` it serves exactly that preview, while it is
    /// kept (the same bytes for every range a player asks for; 410 once it is gone).
    private func preview(_ r: Request) async throws -> HTTPResponse {
        let id = try r.parameter("id")
        guard let previews else { throw APIError(.notFound, "previews are off") }
        switch try await ask({ try $0.previewSource(id) }) {
        case let .film(job, file):
            previews.drop(job)
            var response = try Self.serve(file, name: job, r)
            response.headers[HTTPHeader("X-Reelfarm-Preview")] = "film"
            return response
        case let .prefix(job, format, parts, total):
            if r.http.query["segments"] != nil {
                let n = try r.query("segments", in: 1...total, fallback: 1)
                guard let file = previews.kept(job: job, segments: n) else {
                    throw APIError(.gone, "the preview of \(n) segments is gone; ask for the newest", field: "segments")
                }
                var response = try Self.serve(file, name: "\(job)-preview", r)
                response.headers[HTTPHeader("X-Reelfarm-Preview")] = "\(n)/\(total)"
                return response
            }
            let built: (file: URL, segments: Int)
            do { built = try await previews.preview(job: job, format: format, parts: parts, timeout: 60) } catch {
                throw APIError(.conflict, "the preview could not be assembled (try again): \(error)")
            }
            var response = try Self.serve(built.file, name: "\(job)-preview", r)
            response.headers[HTTPHeader("X-Reelfarm-Preview")] = "\(built.segments)/\(total)"
            return response
        }
    }

    /// A film file, whole or the byte range asked for.
    static func serve(_ file: URL, name job: String, _ r: Request) throws -> HTTPResponse {
        // Films are immutable files; a deletion racing this read ends as a 404.
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw APIError(.notFound, "job \(job)'s film is gone")
        }
        var headers: HTTPHeaders = [
            .contentType: "video/mp4", .acceptRanges: "bytes", .cacheControl: "no-cache",
            .contentDisposition: (r.http.query["download"] == nil ? "inline" : "attachment")
                + "; filename=\"\(job).mp4\"",
        ]
        guard let rangeHeader = r.http.headers[.range] else {
            return HTTPResponse(statusCode: .ok, headers: headers, body: try Self.body(file, 0..<size))
        }
        guard let range = ByteRange.parse(rangeHeader, size: size) else {
            let error = APIError(.rangeNotSatisfiable, "range \(rangeHeader.prefix(80)) is not within the film's "
                                 + "\(size) bytes", field: "Range")
            var response = error.response
            response.headers[.contentRange] = "bytes */\(size)"
            return response
        }
        headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
        return HTTPResponse(statusCode: .partialContent, headers: headers, body: try Self.body(file, range))
    }

    private static func body(_ file: URL, _ range: Range<Int>) throws -> HTTPBodySequence {
        do { return try HTTPBodySequence(file: file, range: range, suggestedBufferSize: 65_536) } catch {
            throw APIError(.notFound, "the film cannot be read")
        }
    }
}

/// `Range: bytes=…` (one range: `a-b`, `a-` or `-n`).
enum ByteRange {
    /// The bytes asked for within a file of `size`, or `nil` when none of them are in it or the header is not one
    /// range.
    static func parse(_ header: String, size: Int) -> Range<Int>? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = text.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let n = Int(last), n > 0 else { return nil }
            return max(0, size - n)..<size
        }
        guard let a = Int(first), a >= 0, a < size else { return nil }
        if last.isEmpty { return a..<size }
        guard let b = Int(last), b >= a else { return nil }
        return a..<(min(b, size - 1) + 1)
    }
}

/// The body of `POST /api/jobs/{id}/priority`: `{"priority": N}`.
struct PriorityChange: Decodable {
    var priority: Int

    static let range = JobPriority.range

    static func parse(_ body: Data) throws -> Int {
        guard let change = try? JSONDecoder().decode(PriorityChange.self, from: body) else {
            throw APIError(.badRequest, "the body must be a JSON object {\"priority\": INTEGER}", field: "priority")
        }
        guard range.contains(change.priority) else {
            throw APIError(.badRequest, "must be in \(range.lowerBound)...\(range.upperBound)", field: "priority")
        }
        return change.priority
    }
}
