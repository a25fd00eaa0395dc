import FarmCore

extension ScheduleSimulator {
    /// Everything wrong with a simulated trace, empty when it is a valid schedule of the plan: every task run exactly
    /// once, never before the tasks it depends on ended, for exactly its work ÷ its worker's speed, and no worker
    /// running two tasks at once.
    public func problems(in spans: [Span]) -> [String] {
        var problems: [String] = []
        let pixels = Double(plan.format.width * plan.format.height)
        let work = plan.work
        var byTask: [String: Span] = [:]
        for s in spans {
            if byTask[s.task] != nil { problems.append("\(s.task) ran twice") }
            byTask[s.task] = s
        }
        for t in plan.tasks {
            guard let s = byTask[t.id] else {
                problems.append("\(t.id) never ran")
                continue
            }
            for d in t.dependsOn {
                if let before = byTask[d], s.start < before.end {
                    problems.append("\(t.id) started at \(s.start) before \(d) ended at \(before.end)")
                }
            }
            guard speeds.indices.contains(s.worker) else {
                problems.append("\(t.id) ran on worker \(s.worker), which does not exist")
                continue
            }
            let expected = Double(work[t.id] ?? 0) * pixels / (speeds[s.worker] * pixels)
            if abs(s.end - s.start - expected) > 1e-9 * max(1, expected) {
                problems.append("\(t.id) took \(s.end - s.start) s on worker \(s.worker), not \(expected) s")
            }
        }
        for id in Set(byTask.keys).subtracting(plan.tasks.map(\.id)).sorted() {
            problems.append("\(id) is not in the plan")
        }
        for (worker, runs) in Dictionary(grouping: spans, by: \.worker) {
            let sorted = runs.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.start < a.end {
                problems.append("worker \(worker) ran \(b.task) from \(b.start) while \(a.task) ran until \(a.end)")
            }
        }
        return problems
    }
}
