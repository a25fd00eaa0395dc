import Foundation

/// A histogram of durations in fixed buckets (Prometheus' cumulative `le` convention), for how long the loop's
/// iterations kept it from reading its socket. A scraper takes the difference of two snapshots for a window.
public struct LoopHistogram: Sendable, Equatable {
    /// Upper bounds in seconds; a last, unbounded bucket follows.
    public static let bounds: [Double] = [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
                                          0.5, 1, 2, 5]
    /// Observations per bucket (not cumulative); the last is above every bound.
    public private(set) var counts = [Int](repeating: 0, count: bounds.count + 1)
    public private(set) var sum = 0.0
    /// The longest observation since the coordinator started.
    public private(set) var max = 0.0

    public init() {}

    /// A histogram read back (e.g. from `/metrics`): per-bucket counts, the sum and the maximum.
    init(counts: [Int], sum: Double, max: Double) {
        self.counts = counts
        self.sum = sum
        self.max = max
    }

    public var count: Int { counts.reduce(0, +) }

    mutating func add(_ seconds: Double) {
        var i = 0
        while i < Self.bounds.count, seconds > Self.bounds[i] { i += 1 }
        counts[i] += 1
        sum += seconds
        max = Swift.max(max, seconds)
    }

    /// The observations between `earlier` and this snapshot (`max` stays this snapshot's).
    public func since(_ earlier: LoopHistogram) -> LoopHistogram {
        var d = self
        for i in counts.indices { d.counts[i] = counts[i] - earlier.counts[i] }
        d.sum = sum - earlier.sum
        return d
    }

    /// The smallest bucket bound that at least `q` of the observations lie under (infinity past the last bound).
    public func upperBound(quantile q: Double) -> Double {
        let total = count
        guard total > 0 else { return 0 }
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if Double(seen) >= q * Double(total) { return i < Self.bounds.count ? Self.bounds[i] : .infinity }
        }
        return .infinity
    }

    /// Prometheus text: `NAME_bucket{le=…}`, `NAME_sum`, `NAME_count` and a `NAME_max` gauge.
    func exposition(name: String, help: String) -> String {
        var lines = ["# HELP \(name) \(help)", "# TYPE \(name) histogram"]
        var cumulative = 0
        for (i, c) in counts.enumerated() {
            cumulative += c
            let le = i < Self.bounds.count ? "\(Self.bounds[i])" : "+Inf"
            lines.append("\(name)_bucket{le=\"\(le)\"} \(cumulative)")
        }
        lines.append("\(name)_sum \(sum)")
        lines.append("\(name)_count \(cumulative)")
        lines.append("# HELP \(name)_max The longest such iteration since the coordinator started.")
        lines.append("# TYPE \(name)_max gauge")
        lines.append("\(name)_max \(max)")
        return lines.joined(separator: "\n") + "\n"
    }
}
