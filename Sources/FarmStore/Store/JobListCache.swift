import Foundation
import GRDB

/// Every job with its task totals, for listings (`status`, the dashboard's snapshot), kept between listings: a
/// listing reads again only the jobs that changed since the last one (the store notes every job whose row or tasks
/// it writes), so that a farm of a thousand queued jobs and one busy one costs that one job's reads, not a decode
/// of a thousand rows and a scan of every task and attempt.
public struct JobListCache: Sendable {
    private var records: [String: JobRecord] = [:]
    private var totals: [String: JobTotals] = [:]
    /// Job ids oldest first (creation time, then id).
    private var order: [String] = []
    /// Large running jobs whose tasks changed since their totals were last asked for, and when that was
    /// (monotonic seconds).
    private var deferred: Set<String> = []
    private var askedAt: [String: Double] = [:]
    private let counts = BackgroundCounts()

    /// An unfinished job of this many tasks or more has its totals counted off the loop, at most every
    /// ``largeJobInterval``, and taken by a later listing (its row is read at once; a finished job's totals too):
    /// counting a 40 000-task job's tasks takes tens of milliseconds, and a busy one changes every iteration.
    public static let largeJob = 2_000
    public static let largeJobInterval = 1.0

    public init() {}

    /// Every job, oldest first, with its totals (jobs without tasks have none), and the ids read again for it
    /// (`nil`: all of them), so that a caller keeping what it derives from a job knows what to derive again.
    /// - Parameter now: monotonic seconds (a large running job's totals are about ``largeJobInterval`` old at most).
    public mutating func listing(_ store: FarmStore, now: Double) throws
        -> (jobs: [(job: JobRecord, totals: JobTotals?)], fresh: Set<String>?) {
        var fresh = store.takeChangedJobs()
        guard var changed = fresh else {
            deferred.removeAll()
            askedAt = [:]
            counts.forget()
            let all = try store.jobs()
            records = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            order = all.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.id)
            totals = try store.jobTotals()
            return (order.compactMap { id in records[id].map { ($0, totals[id]) } }, nil)
        }
        // Counts finished off the loop since the last listing (a job that ended meanwhile was read exactly).
        for (id, counted) in counts.take() {
            guard let record = records[id], !record.state.isFinished else { continue }
            totals[id] = counted
            changed.insert(id)
        }
        var added = false
        for id in changed.union(deferred) {
            if changed.contains(id) {
                guard let record = try store.job(id) else {
                    if records.removeValue(forKey: id) != nil {
                        totals[id] = nil
                        order.removeAll { $0 == id }
                    }
                    deferred.remove(id)
                    askedAt[id] = nil
                    continue
                }
                if records.updateValue(record, forKey: id) == nil { added = true }
            }
            guard let record = records[id] else { continue }
            if !record.state.isFinished, let known = totals[id], known.tasksTotal >= Self.largeJob {
                // Only a count the store answered is taken: a changed job with one on its way waits for it.
                if now - (askedAt[id] ?? -.infinity) >= Self.largeJobInterval {
                    askedAt[id] = now
                    deferred.remove(id)
                    counts.ask(id, firstStart: known.firstStart, store: store)
                } else if changed.contains(id) {
                    deferred.insert(id)
                }
                continue
            }
            deferred.remove(id)
            totals[id] = try store.jobTotals(job: id, firstStart: totals[id]?.firstStart)
        }
        if added { order = records.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.id) }
        fresh = changed
        return (order.compactMap { id in records[id].map { ($0, totals[id]) } }, fresh)
    }
}

/// Large jobs' totals, counted on a reader connection of the store's pool on a queue of their own (never the
/// loop's connection, never its thread), handed to the next listing.
private final class BackgroundCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counted: [String: JobTotals] = [:]
    private var asked: Set<String> = []
    private var generation = 0
    private let queue = DispatchQueue(label: "reelfarm.job-totals", qos: .utility)

    /// Counts `job`'s tasks off the loop, unless a count of it is already on its way.
    func ask(_ job: String, firstStart: Double?, store: FarmStore) {
        let generation: Int? = lock.withLock {
            guard asked.insert(job).inserted else { return nil }
            return self.generation
        }
        guard let generation else { return }
        queue.async { [self] in
            // A failed read is asked again later; a job that has no tasks any more is gone from the listing anyway.
            let result = try? store.db.read { try FarmStore.jobTotals($0, job: job, firstStart: firstStart) }
            lock.withLock {
                asked.remove(job)
                if generation == self.generation, let result = result ?? nil { counted[job] = result }
            }
        }
    }

    /// The counts done since the last call.
    func take() -> [String: JobTotals] {
        lock.withLock {
            defer { counted.removeAll() }
            return counted
        }
    }

    /// Drops the counts on their way and done (a full read replaced them).
    func forget() {
        lock.withLock {
            generation += 1
            counted.removeAll()
        }
    }
}

extension FarmStore {
    /// Every job's task totals and first start in two scans (``JobListCache`` then reads only the jobs that
    /// changed).
    public func jobTotals() throws -> [String: JobTotals] {
        try read { db in
            var out: [String: JobTotals] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT job_id, COUNT(*), SUM(state = 'done'), SUM(frames), SUM(CASE WHEN state = 'done' THEN frames ELSE 0 END),
                       MAX(state = 'ready'), MIN(started_at) FROM tasks GROUP BY job_id
                """) {
                out[row[0]] = JobTotals(tasksTotal: row[1], tasksDone: row[2], framesTotal: row[3], framesDone: row[4],
                                        anyReady: (row[5] as Int) == 1, firstStart: row[6])
            }
            for row in try Row.fetchAll(db, sql: "SELECT job_id, MIN(started_at) FROM attempts GROUP BY job_id") {
                let id: String = row[0]
                let start: Double? = row[1]
                guard let start, var totals = out[id] else { continue }
                totals.firstStart = min(totals.firstStart ?? start, start)
                out[id] = totals
            }
            return out
        }
    }

    /// One job's totals (nil: no such job has tasks). `firstStart`, when already known, is not read again: a job's
    /// earliest attempt start never moves once it has one.
    public func jobTotals(job: String, firstStart known: Double?) throws -> JobTotals? {
        try read { try Self.jobTotals($0, job: job, firstStart: known) }
    }

    static func jobTotals(_ db: Database, job: String, firstStart known: Double?) throws -> JobTotals? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT COUNT(*), SUM(state = 'done'), SUM(frames), SUM(CASE WHEN state = 'done' THEN frames ELSE 0 END),
                   MAX(state = 'ready'), MIN(started_at) FROM tasks WHERE job_id = ?
            """, arguments: [job]), (row[0] as Int) > 0 else { return nil }
        var first: Double? = row[5]
        if let known {
            first = min(first ?? known, known)
        } else if let start = try Double.fetchOne(db, sql: "SELECT MIN(started_at) FROM attempts WHERE job_id = ?",
                                                  arguments: [job]) {
            first = min(first ?? start, start)
        }
        return JobTotals(tasksTotal: row[0], tasksDone: row[1], framesTotal: row[2], framesDone: row[3],
                         anyReady: (row[4] as Int) == 1, firstStart: first)
    }
}
