import Foundation

/// The process's open-file limit, which caps how many workers one coordinator can hold (each connection is a
/// descriptor). Debian's default soft limit of 1 024 would stop a farm near 1 000 workers.
public enum DescriptorLimit {
    /// Descriptors kept for everything but worker connections: the store, artifacts being read or written, the
    /// metrics and HTTP listeners and their clients, libzmq's own.
    public static let reserve = 256

    /// Raises the soft limit to the hard one (allowed to any process); returns the limits after.
    @discardableResult
    public static func raiseToHard() -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1_024, 1_024) }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// The current soft and hard limits.
    public static var current: (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1_024, 1_024) }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// How many workers a soft limit of `soft` descriptors allows at once.
    public static func workerCapacity(soft: Int) -> Int { max(0, soft - reserve) }

    private static func clamp(_ v: rlim_t) -> Int { v > rlim_t(Int32.max) ? Int(Int32.max) : Int(v) }
}
