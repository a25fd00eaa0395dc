/// Whose turn it is to get the coordinator's heartbeat: a wheel of `slots` buckets over one period, each session in
/// one bucket (round robin as they join, so the sends are spread evenly over the period, whenever they joined).
/// A call sends to the buckets passed since the last call, at most one turn of the wheel: after a stall every
/// worker gets one heartbeat, not one per missed period, and keeps its place afterwards.
struct HeartbeatWheel {
    private var buckets: [[WorkerSession]]
    private var next = 0
    private var lastTick: Int?

    init(slots: Int = 50) { buckets = Array(repeating: [], count: max(1, slots)) }

    mutating func add(_ s: WorkerSession) {
        buckets[next].append(s)
        next = (next + 1) % buckets.count
    }

    /// The sessions whose turn came between the last call and `now`; `isMember` drops sessions that left.
    mutating func due(now: Double, period: Double, isMember: (WorkerSession) -> Bool) -> [WorkerSession] {
        let tick = Int((now / (period / Double(buckets.count))).rounded(.down))
        defer { lastTick = tick }
        guard let last = lastTick, tick > last else { return [] }
        var out: [WorkerSession] = []
        for t in max(last + 1, tick - buckets.count + 1)...tick {
            let b = t % buckets.count
            buckets[b].removeAll { !isMember($0) }
            out += buckets[b]
        }
        return out
    }
}
