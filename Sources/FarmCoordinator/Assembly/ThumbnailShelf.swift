import FarmCore
import FarmMedia
import FarmStore
import Foundation

/// Thumbnails of finished segments for the dashboard: each segment's first and last frames (the frames it owns in the
/// film) as small PNGs under `DATA/thumbnails/JOB/`, made on a thread of their own as segments finish.
///
/// A job's chunks are released when its film is done, perhaps before this thread reaches them; so when a segment
/// finishes, its chunk file is hard-linked under the job's folder at once (one `link(2)`, no read) and the thread
/// works from that link, then removes it. Thumbnails stay until their job is deleted. A coordinator restarted with a
/// job unfinished is told its finished segments again, and makes what is missing.
final class ThumbnailShelf: @unchecked Sendable {
    enum Frame: String, CaseIterable, Sendable { case first, last }

    /// Pixels across.
    static let width = 192

    let directory: URL
    private let artifacts: ArtifactStore
    private let log: @Sendable (String) -> Void
    private let queue = DispatchQueue(label: "reelfarm-thumbnails", qos: .utility)

    init(directory: URL, artifacts: ArtifactStore, log: @escaping @Sendable (String) -> Void) {
        self.directory = directory
        self.artifacts = artifacts
        self.log = log
    }

    /// A task key as a file name: its UTF-8 bytes in hex (keys are the plan's, but nothing that names a file is
    /// taken as written).
    static func name(of key: String) -> String {
        key.utf8.map { String(format: "%02x", $0) }.joined()
    }

    /// The thumbnail of `key`'s `frame` in `job`, when it has been made.
    func file(job: String, key: String, frame: Frame) -> URL? {
        guard job.utf8.count <= 128, key.utf8.count <= 512, !job.contains("/"), !job.hasPrefix(".") else { return nil }
        let url = directory.appendingPathComponent(job).appendingPathComponent("\(Self.name(of: key)).\(frame).png")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Segment `key` of `job` finished with chunk artifact `chunk`: its thumbnails are made soon. Returns at once.
    func segmentFinished(job: String, key: String, chunk: String) {
        let folder = directory.appendingPathComponent(job)
        let stem = Self.name(of: key)
        let held = folder.appendingPathComponent(".chunk-\(stem)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        unlink(held.path)
        // The chunk as it is now, kept alive by the link whatever happens to the artifact; where the link cannot be
        // made (another file system), the thread reads the artifact itself.
        let source = link(artifacts.url(chunk).path, held.path) == 0 ? held : artifacts.url(chunk)
        queue.async { [self] in
            defer { if source == held { unlink(held.path) } }
            let made = Frame.allCases.allSatisfy {
                FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(stem).\($0).png").path)
            }
            if made { return }
            do {
                let data = try Data(contentsOf: source)
                guard ArtifactStore.digest(data) == chunk else { throw MediaError.invalidInput("chunk \(chunk.prefix(12)) does not match its hash") }
                let (first, last) = try ChunkThumbnails.make(EncodedChunk(data: data), width: Self.width)
                for (frame, png) in [(Frame.first, first), (.last, last)] {
                    try png.write(to: folder.appendingPathComponent("\(stem).\(frame).png"), options: .atomic)
                }
            } catch {
                log("job \(job): no thumbnails for segment \(key): \(error)")
            }
        }
    }

    /// Removes a deleted job's thumbnails.
    func forget(_ job: String) {
        guard !job.isEmpty, !job.contains("/"), !job.hasPrefix(".") else { return }
        let folder = directory.appendingPathComponent(job)
        queue.async { try? FileManager.default.removeItem(at: folder) }
    }
}
