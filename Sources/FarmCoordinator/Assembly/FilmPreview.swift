import FarmCore
import FarmMedia
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
    /// Done films cut by shot: the folder, each shot's file, when cut (monotonic seconds).
    private var splits: [String: (folder: URL, files: [URL], at: Double)] = [:]

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
    /// - Parameter key: what the preview is kept under and its file named by: the job for its prefix,
    ///   ``shotKey(job:shot:)`` for one shot's segments.
    func preview(job: String, key: String? = nil, format: OutputFormat, parts: [JobFilm.Part], timeout: Double)
        async throws -> (file: URL, segments: Int) {
        let key = key ?? job
        if let ready = lock.withLock({ () -> (file: URL, segments: Int)? in
            guard let b = built[key]?.last else { return nil }
            let fresh = b.segments >= parts.count || Coordinator.clock - b.at < Self.rebuildInterval
            return fresh && FileManager.default.fileExists(atPath: b.file.path) ? (b.file, b.segments) : nil
        }) {
            return ready
        }
        return try await run(timeout: timeout) { [self] in try build(key: key, format: format, parts: parts) }
    }

    /// The key of shot `shot`'s preview of `job`.
    static func shotKey(job: String, shot: Int) -> String { "\(job).shot\(shot)" }

    /// Runs `work` on the preview thread, giving up waiting after `timeout` seconds (the work goes on).
    private func run<T: Sendable>(timeout: Double, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            queue.async { once.resume(Result { try work() }) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                once.resume(.failure(CommandInbox.Failure.timedOut(seconds: timeout)))
            }
        }
    }

    /// Builds (on `queue`) unless an equal or larger one was built meanwhile.
    private func build(key: String, format: OutputFormat, parts: [JobFilm.Part]) throws -> (file: URL, segments: Int) {
        if let b = lock.withLock({ built[key]?.last }), b.segments >= parts.count,
           FileManager.default.fileExists(atPath: b.file.path) {
            return (b.file, b.segments)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("\(key)-\(parts.count).mp4")
        try assembler.assemble(ArtifactFilm(segments: parts, artifacts: artifacts), format: format, to: file)
        let old = lock.withLock { () -> [URL] in
            var list = built[key] ?? []
            list.append((parts.count, file, Coordinator.clock))
            let gone = list.dropLast(2).map(\.file)
            built[key] = Array(list.suffix(2))
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

    /// Forgets a job's previews, its shots' too (its film is done, or it is gone).
    func drop(_ job: String) {
        let list = lock.withLock { () -> [URL] in
            let keys = built.keys.filter { $0 == job || $0.hasPrefix(job + ".shot") }
            return keys.flatMap { built.removeValue(forKey: $0)?.map(\.file) ?? [] }
        }
        guard !list.isEmpty else { return }
        queue.async { for file in list { try? FileManager.default.removeItem(at: file) } }
    }

    /// Shot `shot` of a done job's film: every shot of the film is cut once (``ShotSplitter``: picture copied, sound
    /// re-encoded from exactly each shot's samples) and kept for the last few films asked.
    /// - Throws: when the film does not fit its layout or cannot be read, or a timeout.
    func shotOfFilm(job: String, shot: Int, film: URL, layout: FilmLayout, format: OutputFormat, timeout: Double)
        async throws -> URL {
        try await run(timeout: timeout) { [self] in
            let files = try split(job: job, film: film, layout: layout, format: format)
            guard files.indices.contains(shot) else { throw MediaError.invalidInput("no shot \(shot) in the film") }
            return files[shot]
        }
    }

    /// On `queue`: the film's shots as files, cut unless they were already.
    private func split(job: String, film: URL, layout: FilmLayout, format: OutputFormat) throws -> [URL] {
        if let files = lock.withLock({ splits[job]?.files }),
           files.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) {
            return files
        }
        let folder = directory.appendingPathComponent("\(job)-shots")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let splitter = ShotSplitter(film: film)
        let audio = try splitter.sound(fitting: layout, format: format)
        let files = layout.shots.map { folder.appendingPathComponent(String(format: "%04d.mp4", $0.index)) }
        try splitter.split(layout: layout, format: format, audio: audio, to: files)
        let evicted = lock.withLock { () -> [URL] in
            splits[job] = (folder, files, Coordinator.clock)
            guard splits.count > Self.filmsSplitKept else { return [] }
            let oldest = splits.sorted { $0.value.at < $1.value.at }.prefix(splits.count - Self.filmsSplitKept)
            for (key, _) in oldest { splits.removeValue(forKey: key) }
            return oldest.map(\.value.folder)
        }
        for folder in evicted { try? FileManager.default.removeItem(at: folder) }
        return files
    }

    /// How many done films' shots are kept cut.
    static let filmsSplitKept = 4
}
