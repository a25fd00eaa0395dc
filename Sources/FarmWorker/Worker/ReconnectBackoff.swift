/// When a worker gives up on its connection to a silent coordinator and makes a new one: exponential backoff with
/// jitter (the "full jitter" of AWS's architecture note), so that thousands of workers that lost the coordinator
/// at the same instant come back spread out instead of in one storm.
///
/// The first try waits `base`…`2·base` after the coordinator's last message: longer than a coordinator's stall of a
/// few seconds, which must not cost a re-registration (libzmq's own TCP reconnects cover a restart).
struct ReconnectBackoff {
    var base = 10.0
    var cap = 120.0
    /// When the next new connection is due (monotonic seconds), once the coordinator has gone silent.
    var due: Double?
    private var attempt = 0

    /// The wait before the next try, and counts it.
    mutating func next(random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Double {
        let ceiling = min(cap, base * Double(1 << min(attempt, 16)))
        attempt += 1
        return attempt == 1 ? base + random(0...base) : ceiling / 2 + random(0...ceiling / 2)
    }

    /// The coordinator answered: the next silence starts from the first step again.
    mutating func reset() {
        attempt = 0
        due = nil
    }
}
