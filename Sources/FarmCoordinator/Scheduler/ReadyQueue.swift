import FarmStore

/// Ready tasks in dispatch order (job priority, then longest remaining path, then age): a binary heap.
struct ReadyQueue {
    private var heap: [ReadyTask] = []
    /// Set by every push; the dispatcher clears it once it has looked at the queue (nothing changes for a task that
    /// could not be placed until a task or a slot appears).
    var grew = false

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ t: ReadyTask) {
        grew = true
        heap.append(t)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard ReadyTask.runsBefore(heap[i], heap[p]) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> ReadyTask? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < heap.count, ReadyTask.runsBefore(heap[l], heap[best]) { best = l }
            if r < heap.count, ReadyTask.runsBefore(heap[r], heap[best]) { best = r }
            if best == i { break }
            heap.swapAt(i, best)
            i = best
        }
        return top
    }

    /// Drops every task of `job` (cancelled or failed).
    mutating func remove(job: String) {
        let kept = heap.filter { $0.task.job != job }
        let grew = self.grew
        heap = []
        for t in kept { push(t) }
        self.grew = grew
    }
}
