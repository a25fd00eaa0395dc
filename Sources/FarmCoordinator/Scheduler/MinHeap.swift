/// A binary min-heap: the smallest element first (ties in whatever order the heap reaches them, so callers that need
/// determinism make their elements totally ordered).
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    init() {}

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: Element? { items.first }

    /// Drops the elements `remove` says, keeping the heap order (O(n log n)).
    mutating func removeAll(where remove: (Element) -> Bool) {
        let kept = items.filter { !remove($0) }
        items = []
        for e in kept { push(e) }
    }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i] < items[p] else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count, items[l] < items[best] { best = l }
            if r < items.count, items[r] < items[best] { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}
