import FarmCore
import FarmStore
import FarmWire
import Foundation

/// The dashboard's heavy reads, off the loop: one job's page (its summary from the loop's snapshot, its tasks and
/// attempts from the store's own read connections) and the farm's timeline. A job is named by its id or a unique
/// prefix, resolved against the snapshot as the loop resolves it.
final class JobReads: @unchecked Sendable {
    private let reader: StoreReader
    private let documents: SnapshotDocuments
    private let lock = NSLock()
    /// Shot ids by job (a storyboard is parsed once), bounded.
    private var shots: [String: [String]] = [:]

    init(reader: StoreReader, documents: SnapshotDocuments) {
        self.reader = reader
        self.documents = documents
    }

    /// One job in full.
    func detail(_ query: String) async throws -> JobDetail {
        let summary = try await resolve(query)
        let id = summary.id
        let cachedShots = lock.withLock { shots[id] }
        let (tasks, attempts, parsed) = try await Blocking.run(timeout: 10) { [reader] in
            let tasks = try reader.tasks(job: id)
            let attempts = try reader.attemptTimings(job: id)
            var parsed = cachedShots
            if parsed == nil, let board = try reader.storyboard(job: id) {
                parsed = (try? JobSpec.parse(board.text, source: board.source, checkingFiles: false))?.shots.map(\.id)
            }
            return (tasks, attempts, parsed)
        }
        if let parsed, cachedShots == nil {
            lock.withLock {
                if shots.count >= 256 { shots.removeAll(keepingCapacity: true) }
                shots[id] = parsed
            }
        }
        return JobDetail(job: summary, shots: parsed ?? [], tasks: tasks.map {
            TaskSummary(key: $0.key, shot: $0.shot, state: $0.state, attempts: $0.attempts, worker: $0.worker,
                        step: $0.step, steps: $0.steps, frames: $0.frames, error: $0.error)
        }, attempts: attempts, now: Date().timeIntervalSince1970)
    }

    /// Attempts of every job active in the last `seconds`, at most `limit`: the running ones (from the loop's
    /// snapshot), then the latest that ended (from the store's index by end time), ordered by start.
    func timeline(seconds: Double, limit: Int) async throws -> Timeline {
        let snapshot = try await documents.latest()
        let now = Date().timeIntervalSince1970
        let running = snapshot.running.count > limit
            ? Array(snapshot.running.sorted { $0.startedAt > $1.startedAt }.prefix(limit)) : snapshot.running
        let room = limit - running.count
        let ended = room == 0 ? [] : try await Blocking.run(timeout: 10) { [reader] in
            try reader.endedAttempts(since: now - seconds, limit: room)
        }
        let attempts = (ended + running).sorted { ($0.startedAt, $0.job, $0.key) < ($1.startedAt, $1.job, $1.key) }
        return Timeline(since: now - seconds, now: now, attempts: attempts)
    }

    /// The job the snapshot lists under `query` (its id, or a prefix only its id starts with).
    /// - Throws: ``JobLookupError`` (404 none, 409 several, with the candidates).
    func resolve(_ query: String) async throws -> JobSummary {
        let jobs = try await documents.latest().jobs
        if let exact = jobs.first(where: { $0.id == query }) { return exact }
        let matches = query.utf8.count <= 256 ? jobs.filter { $0.id.hasPrefix(query) } : []
        guard matches.count == 1, let only = matches.first else {
            throw JobLookupError(query: String(query.prefix(64)),
                                 candidates: Array(matches.map(\.id).sorted().prefix(Coordinator.prefixCandidates)))
        }
        return only
    }
}
