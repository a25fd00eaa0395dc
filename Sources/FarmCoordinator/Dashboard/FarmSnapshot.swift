import FarmStore
import FarmWire
import Foundation

/// What the farm looks like, as the coordinator loop last published it for the dashboard: every job with its totals,
/// the first page of workers and the gauges. Readers never wait on the loop's lock; the loop publishes at most four
/// times a second, when something changed (and every two seconds regardless, so times and estimates advance), and
/// only while someone reads them: a dashboard nobody looks at costs the loop nothing.
public struct FarmSnapshot: Sendable {
    /// Grows by one with every publication.
    public var version: Int
    /// Wall-clock seconds when it was taken.
    public var time: Double
    public var jobs: [JobSummary]
    public var workers: WorkersReport
    public var gauges: FarmGauges
    /// The open attempts (one per lease), for the timeline: the store keeps attempts once they end.
    public var running: [AttemptTiming] = []
}

/// The latest ``FarmSnapshot``, behind a lock of its own (never the loop's).
public final class SnapshotSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: FarmSnapshot?
    private var enabled = false
    /// When it was last read and last published (monotonic seconds).
    private var lastRead = -Double.infinity, publishedAt = -Double.infinity

    /// After this long without a reader the loop stops publishing (seconds).
    static let idleAfter = 10.0
    /// A snapshot older than this is stale: the loop was not publishing (seconds).
    static let staleAfter = SnapshotSchedule.maximumInterval + 0.5

    /// The latest snapshot, stale or not; `nil` until the loop published one.
    public var snapshot: FarmSnapshot? { lock.withLock { latest } }

    /// Lets the loop publish snapshots (it does not while nobody serves them).
    public func enable() { lock.withLock { enabled = true } }

    /// The latest snapshot if it is fresh, noting the read (the loop publishes while someone reads).
    func read(now: Double) -> FarmSnapshot? {
        lock.withLock {
            lastRead = now
            return now - publishedAt <= Self.staleAfter ? latest : nil
        }
    }

    /// Whether the loop should publish: enabled, and read lately.
    func isWanted(now: Double) -> Bool { lock.withLock { enabled && now - lastRead < Self.idleAfter } }

    func publish(_ s: FarmSnapshot, now: Double) {
        lock.withLock {
            latest = s
            publishedAt = now
        }
    }
}

/// The loop's own bookkeeping for publishing snapshots.
struct SnapshotSchedule {
    var lastPublished = -Double.infinity
    var lastFingerprint: [Int] = []
    var version = 0
    /// A request changed something: publish at the end of this iteration, before its answer goes out.
    var forced = false
    /// Tasks reported progress since the last publication.
    var progressed = false

    /// The shortest and longest time between two publications, seconds.
    static let minimumInterval = 0.25
    static let maximumInterval = 2.0
    /// The time between two publications when something changed: ten times what the last one took (so that
    /// publishing takes at most a tenth of the loop's time), within the two bounds above.
    var interval = minimumInterval
}
