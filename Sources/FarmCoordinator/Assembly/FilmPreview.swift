import FarmCore
import FarmStore
import Foundation

/// What the dashboard's player can play of a job: its film once done, else an MP4 of the contiguous prefix of
/// finished segments (picture and sound), assembled on demand.
enum PreviewSource: Sendable {
    case film(job: String, file: URL)
    /// The finished prefix: each segment's key, chunk and PCM artifacts in film order, of `total` segments.
    case prefix(job: String, format: OutputFormat, parts: [JobFilm.Part], total: Int)
}

/// Films of running jobs' finished prefixes, for the dashboard's player. One thread builds them, one at a time (an
/// AAC encode of the prefix takes a while), from the artifact store as the whole assembly does; the newest of each job
/// is kept under `DATA/previews` and rebuilt at most every few seconds as the prefix grows. Nothing here touches the
/// loop or the store's database.
final class PreviewCache: @unchecked Sendable {
    private let directory: URL
    private let artifacts: ArtifactStore
    private let assembler: any FilmAssembler
    private let queue = DispatchQueue(label: "reelfarm-preview")
    private let lock = NSLock()
    /// Each job's two newest previews, newest last: how many segments each holds, its file, and when it was built
    /// (monotonic seconds). The one before the newest stays for a player still reading it.
    private var built: [String: [(segments: Int, file: URL, at: Double)]] = [:]

    /// A prefix grown by fewer segments than this waits this long for a rebuild (seconds).
    static let rebuildInterval = 3.0

    init(directory: URL, artifacts: ArtifactStore, assembler: any FilmAssembler) {
        self.directory = directory
        self.artifacts = artifacts
        self.assembler = assembler
        try? FileManager.default.removeItem(at: directory)  // previews die with their process
    }

    /// The preview of `job`'s prefix: its file and how many segments it holds (maybe fewer than `parts`, while a
    /// newer one would be rebuilt too soon).
    /// - Throws: the assembly's error (a segment's artifact gone, e.g. released as the job finished), or a timeout.
    func preview(job: String, format: OutputFormat, parts: [JobFilm.Part], timeout: Double) async throws
        -> (file: URL, segments: Int) {
        if let ready = lock.withLock({ () -> (file: URL, segments: Int)? in
            guard let b = built[job]?.last else { return nil }
            let fresh = b.segments >= parts.count || Coordinator.clock - b.at < Self.rebuildInterval
            return fresh && FileManager.default.fileExists(atPath: b.file.path) ? (b.file, b.segments) : nil
        }) {
            return ready
        }
        return try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            queue.async { [self] in once.resume(Result { try build(job: job, format: format, parts: parts) }) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                once.resume(.failure(CommandInbox.Failure.timedOut(seconds: timeout)))
            }
        }
    }

    /// Builds (on `queue`) unless an equal or larger one was built meanwhile.
    private func build(job: String, format: OutputFormat, parts: [JobFilm.Part]) throws -> (file: URL, segments: Int) {
        if let b = lock.withLock({ built[job]?.last }), b.segments >= parts.count,
           FileManager.default.fileExists(atPath: b.file.path) {
            return (b.file, b.segments)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("\(job)-\(parts.count).mp4")
        try assembler.assemble(ArtifactFilm(segments: parts, artifacts: artifacts), format: format, to: file)
        let old = lock.withLock { () -> [URL] in
            var list = built[job] ?? []
            list.append((parts.count, file, Coordinator.clock))
            let gone = list.dropLast(2).map(\.file)
            built[job] = Array(list.suffix(2))
            return gone
        }
        // A reader still streaming an older file keeps its open descriptor; the name goes.
        for url in old where url != file { try? FileManager.default.removeItem(at: url) }
        return (file, parts.count)
    }

    /// The preview of `job` that holds exactly `segments` segments, while it is kept: the same bytes for every range
    /// a player asks for.
    func kept(job: String, segments: Int) -> URL? {
        lock.withLock { built[job]?.last { $0.segments == segments }?.file }
    }

    /// Forgets a job's preview (its film is done, or it is gone).
    func drop(_ job: String) {
        guard let list = lock.withLock({ built.removeValue(forKey: job) }) else { return }
        queue.async { for b in list { try? FileManager.default.removeItem(at: b.file) } }
    }
}
