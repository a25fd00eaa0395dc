/// Each worker's speed per engine in work units (generated frames × pixels) per second, learned from its finished
/// attempts as an exponential moving average. A worker not yet measured on an engine is taken to run it at the median
/// speed of the measured workers of its device class (else of all measured workers, else 1), so a farm that has
/// measured nobody places tasks as if all workers were equal.
struct SpeedBook {
    /// Weight of the newest attempt in the average.
    static let weight = 0.3
    /// Attempts a worker must finish on an engine before its own speed counts (one attempt can be an outlier: a
    /// first task that loaded the model, or a loaded machine).
    static let settled = 3

    private struct Entry {
        var speed: Double
        var samples: Int
    }

    private var entries: [String: [String: Entry]] = [:]
    private var devices: [String: String] = [:]
    /// Median speeds by `device engine` and by `engine`, until the next measurement.
    private var medians: [String: Double] = [:]

    /// Learns from one finished attempt of `work` units that took `seconds` (ignored when either is not positive).
    mutating func record(worker: String, device: String, engine: String, work: Double, seconds: Double) {
        guard work > 0, seconds > 0, work.isFinite, seconds.isFinite else { return }
        let measured = work / max(seconds, 0.001)
        var e = entries[worker]?[engine] ?? Entry(speed: measured, samples: 0)
        e.speed += Self.weight * (measured - e.speed)
        e.samples += 1
        entries[worker, default: [:]][engine] = e
        devices[worker] = device
        if e.samples >= Self.settled { medians.removeAll(keepingCapacity: true) }
    }

    /// The speed to plan with for `worker` on `engine`.
    mutating func speed(worker: String, device: String, engine: String) -> Double {
        if let e = entries[worker]?[engine], e.samples >= Self.settled { return e.speed }
        if let m = median(device: device, engine: engine) { return m }
        return median(device: nil, engine: engine) ?? 1
    }

    /// The measured speed of `worker` on `engine`, once settled.
    func measured(worker: String, engine: String) -> Double? {
        entries[worker]?[engine].flatMap { $0.samples >= Self.settled ? $0.speed : nil }
    }

    private mutating func median(device: String?, engine: String) -> Double? {
        let key = "\(device ?? "*") \(engine)"
        if let m = medians[key] { return m.isNaN ? nil : m }
        let speeds = entries.compactMap { worker, engines -> Double? in
            guard device == nil || devices[worker] == device, let e = engines[engine], e.samples >= Self.settled else {
                return nil
            }
            return e.speed
        }.sorted()
        let m = speeds.isEmpty ? Double.nan : speeds[speeds.count / 2]
        medians[key] = m
        return m.isNaN ? nil : m
    }
}
