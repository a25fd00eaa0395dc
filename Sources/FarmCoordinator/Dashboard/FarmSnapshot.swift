import FarmWire
import Foundation

/// What the farm looks like, as the coordinator loop last published it for the dashboard: every job with its totals,
/// the first page of workers and the gauges. Readers never wait on the loop; the loop publishes at most four times a
/// second, when something changed (and every two seconds regardless, so times and estimates advance).
public struct FarmSnapshot: Sendable {
    /// Grows by one with every publication.
    public var version: Int
    /// Wall-clock seconds when it was taken.
    public var time: Double
    public var jobs: [JobSummary]
    public var workers: WorkersReport
    public var gauges: FarmGauges
}

/// The latest ``FarmSnapshot``, behind a lock of its own (never the loop's).
public final class SnapshotSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: FarmSnapshot?
    private var wanted = false

    /// The latest snapshot; `nil` until the loop published one.
    public var snapshot: FarmSnapshot? { lock.withLock { latest } }

    /// Asks the loop to publish snapshots (it does not while nobody serves them).
    public func enable() { lock.withLock { wanted = true } }
    var isEnabled: Bool { lock.withLock { wanted } }

    func publish(_ s: FarmSnapshot) { lock.withLock { latest = s } }
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
}
