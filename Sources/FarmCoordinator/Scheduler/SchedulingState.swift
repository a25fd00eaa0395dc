import FarmStore

/// What the scheduler keeps between dispatches: the workers' speeds, enough about the running attempts and the work
/// left to place the next tasks by when they would finish, and whether the last dispatch's answer still stands.
struct SchedulingState {
    var speeds = SpeedBook()
    /// Each attempt handed out and not yet ended.
    var started: [TaskKey: Started] = [:]
    /// Work units of each loaded job's unfinished tasks (running ones included), once counted.
    var remaining: [String: Double] = [:]
    /// Each loaded job's tasks: their work units, and those on the longest path behind each.
    var tasks: [String: [String: (work: Double, after: Double)]] = [:]
    /// Set when a dispatch started nothing: what the farm looked like then, and until when that answer stands.
    private var unchanged: (farm: [Int], until: Double)?

    /// An attempt handed out: when (monotonic seconds), its work units and those behind it, its expected seconds.
    struct Started {
        var attempt: Int
        var at: Double
        var work: Double
        var after: Double
        var seconds: Double
    }

    /// How long a dispatch that started nothing (every task waits for a faster worker, or fits none) holds for an
    /// unchanged farm: rebuilding the placement every loop iteration (≤ 20 ms) would cost as much as all the rest.
    static let recheck = 0.2

    /// Whether this dispatch can be skipped: the last one started nothing, and `farm` (the queue's, the running
    /// tasks' and the workers' counts) has not changed since.
    func canSkip(_ farm: [Int], now: Double) -> Bool {
        guard let u = unchanged else { return false }
        return u.farm == farm && now < u.until
    }

    /// Records a dispatch's outcome.
    mutating func dispatched(_ count: Int, farm: [Int], now: Double) {
        unchanged = count == 0 ? (farm, now + Self.recheck) : nil
    }

    /// Forgets a job that stopped running (counted again from the store if it resumes).
    mutating func unload(_ job: String) {
        remaining[job] = nil
        tasks[job] = nil
    }
}
