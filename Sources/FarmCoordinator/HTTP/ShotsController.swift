import FarmWire
import FlyingFox
import Foundation

/// `/api/jobs/{id}/shots/{shot}/preview` and `/api/jobs/{id}/thumbnail`: one shot to play as soon as its segments
/// have all finished, and each finished segment's first and last frames.
struct ShotsController {
    let link: DashboardLink
    let previews: PreviewCache?
    let thumbnails: ThumbnailShelf?
    let reads: JobReads?

    func addRoutes(to router: inout Router) {
        router.add("GET", "/api/jobs/{id}/shots/{shot}/preview") { r in try await shotPreview(r) }
        router.add("GET", "/api/jobs/{id}/thumbnail") { r in try await thumbnail(r) }
    }

    /// The shot's MP4 (picture and sound), whole or the byte range asked for: its segments assembled while the job
    /// runs, its cut of the film once the job is done. 409 while some of its segments have not finished.
    private func shotPreview(_ r: Request) async throws -> HTTPResponse {
        let id = try r.parameter("id"), shot = try r.parameter("shot")
        guard let previews else { throw APIError(.notFound, "previews are off") }
        guard !shot.isEmpty, shot.utf8.count <= 256 else {
            throw APIError(.badRequest, "must be a shot id of the storyboard or its index from 0", field: "shot")
        }
        let source: ShotPreviewSource
        do { source = try await link.inbox.ask(changes: false) { try $0.shotPreviewSource(id, shot: shot) } } catch {
            throw APIError.from(error, field: "shot")
        }
        let file: URL, job: String, index: Int
        do {
            switch source {
            case let .parts(j, s, format, parts):
                (job, index) = (j, s)
                file = try await previews.preview(job: j, key: PreviewCache.shotKey(job: j, shot: s), format: format,
                                                  parts: parts, timeout: 60).file
            case let .film(j, s, film, layout, format):
                (job, index) = (j, s)
                file = try await previews.shotOfFilm(job: j, shot: s, film: film, layout: layout, format: format,
                                                     timeout: 120)
            }
        } catch {
            throw APIError(.conflict, "the shot's preview could not be made (try again): \(error)")
        }
        var response = try JobsController.serve(file, name: "\(job)-shot\(index)", r)
        response.headers[HTTPHeader("X-Reelfarm-Preview")] = "shot"
        return response
    }

    /// A finished segment's first or last frame (`?segment=KEY&frame=first|last`) as a PNG, 192 pixels wide.
    private func thumbnail(_ r: Request) async throws -> HTTPResponse {
        guard let thumbnails, let reads else { throw APIError(.notFound, "thumbnails are off") }
        let id = try r.parameter("id")
        guard let segment = r.http.query["segment"], !segment.isEmpty, segment.utf8.count <= 512 else {
            throw APIError(.badRequest, "must name a segment by its task key (e.g. wide/0)", field: "segment")
        }
        let frameText = r.http.query["frame"] ?? "first"
        guard let frame = ThumbnailShelf.Frame(rawValue: frameText) else {
            throw APIError(.badRequest, "must be first or last", field: "frame")
        }
        let job: String
        do { job = try await reads.resolve(id).id } catch { throw APIError.from(error) }
        guard let file = thumbnails.file(job: job, key: segment, frame: frame),
              let data = try? Data(contentsOf: file) else {
            throw APIError(.notFound, "segment \(segment.prefix(80)) of job \(job) has no thumbnail (it has not finished, "
                           + "or its thumbnail is still being made)", field: "segment")
        }
        return HTTPResponse(statusCode: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=3600"],
                            body: data)
    }
}
