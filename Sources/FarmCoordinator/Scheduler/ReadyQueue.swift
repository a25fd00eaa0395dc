import FarmStore

/// Ready tasks in dispatch order (job priority, then longest remaining path, then age).
struct ReadyQueue {
    /// A ready task ordered by ``ReadyTask/runsBefore(_:_:)``.
    private struct Entry: Comparable {
        var task: ReadyTask
        static func < (l: Entry, r: Entry) -> Bool { ReadyTask.runsBefore(l.task, r.task) }
        static func == (l: Entry, r: Entry) -> Bool { !(l < r) && !(r < l) }
    }

    private var heap = MinHeap<Entry>()
    /// Set by every push; the dispatcher clears it once it has looked at the queue (nothing changes for a task that
    /// could not be placed until a task or a slot appears).
    var grew = false

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ t: ReadyTask) {
        grew = true
        heap.push(Entry(task: t))
    }

    mutating func pop() -> ReadyTask? { heap.pop()?.task }

    /// Drops every task of `job` (cancelled or failed).
    mutating func remove(job: String) { heap.removeAll { $0.task.task.job == job } }

    /// Gives every queued task of `job` a new priority (their places change with it).
    mutating func reprioritize(job: String, priority: Int) {
        var moved: [ReadyTask] = []
        heap.removeAll { entry in
            guard entry.task.task.job == job else { return false }
            moved.append(entry.task)
            return true
        }
        for var t in moved {
            t.priority = priority
            push(t)
        }
    }
}
