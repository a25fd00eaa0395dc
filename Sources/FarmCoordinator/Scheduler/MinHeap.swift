/// A binary min-heap: the smallest element first (ties in whatever order the heap reaches them, so callers that need
/// determinism make their elements totally ordered).
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    init() {}

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: Element? { items.first }

    /// Drops the elements `remove` says, keeping the heap order: O(n), and nothing moves when none is dropped (a
    /// dashboard's priority change on a queue of 100 000 tasks must not stall the loop).
    mutating func removeAll(where remove: (Element) -> Bool) {
        let before = items.count
        items.removeAll(where: remove)
        guard items.count != before else { return }
        // Floyd's bottom-up heap construction: sift every parent down, last first.
        var i = items.count / 2
        while i > 0 {
            i -= 1
            siftDown(from: i)
        }
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
        siftDown(from: 0)
        return top
    }

    private mutating func siftDown(from start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count, items[l] < items[best] { best = l }
            if r < items.count, items[r] < items[best] { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
    }
}
