import GRDB

/// Every job's task totals for listings (`status`, the dashboard's snapshot), kept between listings: a listing
/// reads again only the jobs whose tasks changed since the last one (the store notes them), so that a farm of a
/// thousand queued jobs and one busy one costs one job's read, not a scan of every task and attempt.
public struct JobTotalsCache: Sendable {
    private var totals: [String: JobTotals] = [:]

    public init() {}

    /// The totals of every job in `jobs`, from the store where they changed.
    public mutating func refresh(_ store: FarmStore, jobs: [String]) throws -> [String: JobTotals] {
        if let changed = store.takeChangedJobs() {
            for id in changed { totals[id] = try store.jobTotals(job: id, firstStart: totals[id]?.firstStart) }
            for id in jobs where totals[id] == nil { totals[id] = try store.jobTotals(job: id, firstStart: nil) }
            if totals.count > jobs.count {
                let listed = Set(jobs)
                totals = totals.filter { listed.contains($0.key) }
            }
        } else {
            totals = try store.jobTotals()
        }
        return totals
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
