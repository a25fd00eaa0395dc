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
    /// Large jobs whose tasks changed but whose totals wait (see ``largeJob``), and when each large job's totals
    /// were last read (monotonic seconds).
    private var deferred: Set<String> = []
    private var totalsReadAt: [String: Double] = [:]

    /// An unfinished job of this many tasks or more has its totals read again at most every ``largeJobInterval``
    /// (its row at once; a finished job's at once too): counting a 40 000-task job's tasks takes milliseconds, and a
    /// busy one changes every iteration.
    public static let largeJob = 2_000
    public static let largeJobInterval = 1.0

    public init() {}

    /// Every job, oldest first, with its totals (jobs without tasks have none), and the ids read again for it
    /// (`nil`: all of them), so that a caller keeping what it derives from a job knows what to derive again.
    /// - Parameter now: monotonic seconds (large jobs' totals are at most ``largeJobInterval`` old).
    public mutating func listing(_ store: FarmStore, now: Double) throws
        -> (jobs: [(job: JobRecord, totals: JobTotals?)], fresh: Set<String>?) {
        var fresh = store.takeChangedJobs()
        if fresh != nil, !deferred.isEmpty {
            fresh?.formUnion(deferred)
            deferred.removeAll()
        }
        if let changed = fresh {
            var added = false
            for id in changed {
                if let record = try store.job(id) {
                    if records.updateValue(record, forKey: id) == nil { added = true }
                    if !record.state.isFinished, let known = totals[id], known.tasksTotal >= Self.largeJob,
                       now - (totalsReadAt[id] ?? -.infinity) < Self.largeJobInterval {
                        deferred.insert(id)
                        continue
                    }
                    totals[id] = try store.jobTotals(job: id, firstStart: totals[id]?.firstStart)
                    if (totals[id]?.tasksTotal ?? 0) >= Self.largeJob { totalsReadAt[id] = now }
                } else if records.removeValue(forKey: id) != nil {
                    totalsReadAt[id] = nil
                    totals[id] = nil
                    order.removeAll { $0 == id }
                }
            }
            if added {
                order = records.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.id)
            }
        } else {
            deferred.removeAll()
            totalsReadAt = [:]
            let all = try store.jobs()
            records = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            order = all.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.id)
            totals = try store.jobTotals()
            for (id, t) in totals where t.tasksTotal >= Self.largeJob { totalsReadAt[id] = now }
        }
        return (order.compactMap { id in records[id].map { ($0, totals[id]) } }, fresh)
    }
}

extension FarmStore {
    /// One job's totals (nil: no such job has tasks). `firstStart`, when already known, is not read again: a job's
    /// earliest attempt start never moves once it has one.
    public func jobTotals(job: String, firstStart known: Double?) throws -> JobTotals? {
        try read { db in
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
}
