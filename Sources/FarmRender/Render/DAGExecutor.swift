import Foundation

/// Runs the tasks of a DAG on `threads` dedicated threads, each task once all its dependencies are done.
///
/// Ready tasks start in order of `priority` (higher first), so the longest remaining path goes first. Engine work
/// is CPU-bound and synchronous, so it runs on threads of its own and never occupies Swift's cooperative pool.
/// The first failure stops new tasks from starting; running ones finish; the failure is rethrown.
public struct DAGExecutor: Sendable {
    public struct Task: Sendable {
        public var id: String
        public var dependsOn: [String]
        public var priority: Int
        public init(id: String, dependsOn: [String], priority: Int) {
            self.id = id
            self.dependsOn = dependsOn
            self.priority = priority
        }
    }

    public let threads: Int
    public init(threads: Int) { self.threads = max(1, threads) }

    /// Runs every task through `body`.
    /// - Throws: the first error `body` threw, or a cycle/unknown-dependency error.
    public func run(_ tasks: [Task], body: @escaping @Sendable (String) throws -> Void) throws {
        let state = State(tasks)
        try state.checkGraph()
        let group = DispatchGroup()
        for n in 0..<min(threads, max(tasks.count, 1)) {
            group.enter()
            let thread = Thread {
                state.work(body)
                group.leave()
            }
            thread.name = "reelfarm-render-\(n)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let error = state.failure { throw error }
    }

    /// Shared scheduling state, guarded by one condition lock.
    private final class State: @unchecked Sendable {
        let lock = NSCondition()
        var waiting: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        var priority: [String: Int] = [:]
        var ready: [String] = []
        var running = 0
        var remaining: Int
        var failure: (any Error)?
        let all: [Task]

        init(_ tasks: [Task]) {
            all = tasks
            remaining = tasks.count
            for t in tasks {
                waiting[t.id] = t.dependsOn.count
                priority[t.id] = t.priority
                for d in t.dependsOn { dependents[d, default: []].append(t.id) }
                if t.dependsOn.isEmpty { ready.append(t.id) }
            }
        }

        struct GraphError: Error, CustomStringConvertible { var description: String }

        func checkGraph() throws {
            let ids = Set(all.map(\.id))
            guard ids.count == all.count else { throw GraphError(description: "task ids are not unique") }
            for t in all { for d in t.dependsOn where !ids.contains(d) {
                throw GraphError(description: "\(t.id) depends on unknown task \(d)")
            } }
            // Kahn's algorithm: every task must become ready at some point.
            var w = waiting, queue = ready, seen = 0
            while let id = queue.popLast() {
                seen += 1
                for d in dependents[id, default: []] { w[d]! -= 1; if w[d] == 0 { queue.append(d) } }
            }
            guard seen == all.count else { throw GraphError(description: "the task graph has a cycle") }
        }

        func work(_ body: (String) throws -> Void) {
            while true {
                lock.lock()
                while ready.isEmpty && remaining > 0 && failure == nil && !(running == 0 && ready.isEmpty) {
                    lock.wait()
                }
                if failure != nil || remaining == 0 || ready.isEmpty {
                    lock.broadcast()
                    lock.unlock()
                    return
                }
                let best = ready.indices.max { (priority[ready[$0]]!, ready[$1]) < (priority[ready[$1]]!, ready[$0]) }!
                let id = ready.remove(at: best)
                running += 1
                lock.unlock()
                var error: (any Error)?
                do { try body(id) } catch let e { error = e }
                lock.lock()
                running -= 1
                remaining -= 1
                if let error {
                    if failure == nil { failure = error }
                } else {
                    for d in dependents[id, default: []] {
                        waiting[d]! -= 1
                        if waiting[d] == 0 { ready.append(d) }
                    }
                }
                lock.broadcast()
                lock.unlock()
            }
        }
    }
}
