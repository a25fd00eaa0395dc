/// A first-in first-out queue of values due at nondecreasing times: liveness deadlines and heartbeat turns. Pushes
/// and pops are O(1) (amortised), so a farm's per-iteration cost does not grow with the number of idle workers.
///
/// The caller pushes in nondecreasing `due` order (times come from a monotonic clock); a value pushed slightly out
/// of order is only popped late, never lost.
struct TimedQueue<Value> {
    private var items: [(due: Double, value: Value)] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    /// When the first value falls due.
    var nextDue: Double? { isEmpty ? nil : items[head].due }

    mutating func push(_ value: Value, due: Double) { items.append((due, value)) }

    /// The first value, if it is due at `now`.
    mutating func pop(dueBy now: Double) -> (due: Double, value: Value)? {
        guard head < items.count, items[head].due <= now else { return nil }
        let item = items[head]
        head += 1
        // Compact once the consumed prefix is both large and most of the storage.
        if head >= 4_096, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
