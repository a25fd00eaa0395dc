import FarmCore
import FarmWire
import FlyingFox
import Foundation

/// `POST /api/jobs`: a storyboard and its images, checked as `reelfarm submit` checks them (every broken rule is
/// answered with its field and line), then queued by the loop.
struct SubmitController {
    let link: DashboardLink

    /// The most a submission's body may hold: the images as base64 and the storyboard.
    static let bodyLimit = 12 << 20
    /// The most its images may hold together, decoded: what one `submit` message carries over ZeroMQ.
    static let imageLimit = WireMessage.maxMessageBytes
    static let storyboardLimit = 1 << 20
    /// Content types of a body that is the storyboard's text.
    static let yamlTypes = ["application/yaml", "application/x-yaml", "text/yaml", "text/plain"]

    func addRoutes(to router: inout Router) {
        router.add("POST", "/api/jobs") { r in try await submit(r) }
    }

    /// The body: `{"storyboard": TEXT, "priority": N?, "source": NAME?, "images": {PATH: BASE64}?, "revise": JOB?,
    /// "reuse": BOOL?, "preview_first": BOOL?}` (the last three as `reelfarm submit --revise`, `--no-reuse`,
    /// `--preview-first`).
    struct Body: Decodable {
        var storyboard: String
        var priority: Int?
        var source: String?
        var images: [String: String]?
        var revise: String?
        var reuse: Bool?
        var previewFirst: Bool?

        enum CodingKeys: String, CodingKey {
            case storyboard, priority, source, images, revise, reuse
            case previewFirst = "preview_first"
        }
    }

    private func submit(_ r: Request) async throws -> HTTPResponse {
        let type = (r.http.headers[.contentType] ?? "application/json").lowercased()
        let body = try await r.body(limit: Self.bodyLimit)
        let (submit, blobs): (Submit, [Data])
        if type.hasPrefix("application/json") {
            (submit, blobs) = try Self.parse(body)
        } else if Self.yamlTypes.contains(where: type.hasPrefix) {
            // The storyboard's text as the body (`curl --data-binary @job.yaml`), without images.
            let priority = try r.query("priority", in: PriorityChange.range, fallback: 0)
            guard let text = String(data: body, encoding: .utf8) else {
                throw APIError(.badRequest, "is not UTF-8", field: "storyboard")
            }
            let json = try JSONSerialization.data(withJSONObject: [
                "storyboard": text, "priority": priority, "source": r.http.query["source"] ?? "upload",
            ])
            (submit, blobs) = try Self.parse(json)
        } else {
            throw APIError(.unsupportedMediaType, "send application/json or the storyboard as application/yaml",
                           field: "Content-Type")
        }
        do {
            let submitted = try await link.inbox.ask(changes: true) { try $0.submitted(submit, blobs: blobs) }
            return JSONResponse.ok(submitted, status: .created)
        } catch let e as WireError {
            // What the storyboard names and the upload does not carry (or carries wrongly) is the images' fault.
            throw APIError(.badRequest, e.message, field: e.message.contains("image") ? "images" : "storyboard")
        } catch {
            throw APIError.from(error)
        }
    }

    /// Checks the body and turns it into the `submit` message the ZeroMQ clients send.
    static func parse(_ data: Data) throws -> (Submit, [Data]) {
        let body: Body
        do {
            // Not the wire decoder: its snake_case conversion would rewrite the image paths (dictionary keys).
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw APIError(.badRequest, "is required", field: key.stringValue)
        } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
            throw APIError(.badRequest, "has the wrong type",
                           field: context.codingPath.map(\.stringValue).joined(separator: "."))
        } catch {
            throw APIError(.badRequest, "the body must be a JSON object {storyboard, priority?, source?, images?, "
                           + "revise?, reuse?, preview_first?}", field: "body")
        }
        guard body.storyboard.utf8.count <= storyboardLimit else {
            throw APIError(.payloadTooLarge, "is over \(storyboardLimit) bytes", field: "storyboard")
        }
        let priority = body.priority ?? 0
        guard PriorityChange.range.contains(priority) else {
            let range = PriorityChange.range
            throw APIError(.badRequest, "must be in \(range.lowerBound)...\(range.upperBound)", field: "priority")
        }
        let source = body.source ?? "upload"
        guard !source.isEmpty, source.utf8.count <= 256, !source.contains(where: \.isNewline) else {
            throw APIError(.badRequest, "must be 1–256 characters on one line", field: "source")
        }
        var assets: [SubmitAsset] = []
        var blobs: [Data] = []
        var total = 0
        let images = (body.images ?? [:]).sorted { $0.key < $1.key }
        guard images.count <= 1_024 else { throw APIError(.badRequest, "more than 1024 images", field: "images") }
        for (path, base64) in images {
            guard !path.isEmpty, path.utf8.count <= 1_024 else {
                throw APIError(.badRequest, "an image path is empty or longer than 1024 bytes", field: "images")
            }
            guard let data = Data(base64Encoded: base64) else {
                throw APIError(.badRequest, "is not base64", field: "images.\(path.prefix(200))")
            }
            total += data.count
            guard total <= imageLimit else {
                throw APIError(.payloadTooLarge, "the images are over \(imageLimit) bytes together", field: "images")
            }
            assets.append(SubmitAsset(path: path, sha256: Digest.sha256(data), blob: blobs.count))
            blobs.append(data)
        }
        // Always a list (maybe empty): the coordinator must never read an image path on its own disk for an upload.
        if let revise = body.revise, revise.isEmpty || revise.utf8.count > 256 {
            throw APIError(.badRequest, "must be a job id or prefix of 1–256 characters", field: "revise")
        }
        var submit = Submit(storyboard: body.storyboard, source: source, priority: priority, assets: assets)
        submit.revise = body.revise
        submit.reuse = body.reuse == false ? false : nil  // absent: the coordinator's default
        submit.previewFirst = body.previewFirst == true ? true : nil
        return (submit, blobs)
    }
}
