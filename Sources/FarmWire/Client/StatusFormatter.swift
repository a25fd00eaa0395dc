import Foundation

/// Renders status replies as tables and progress bars for the terminal.
public enum StatusFormatter {
    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    static func bar(_ done: Int, _ total: Int, width: Int = 24) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    /// A span of seconds for people: `42s`, `3m05s`, `1h02m`.
    static func span(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
    }

    /// Time spent and, while frames are left, the estimate of what remains: `3m05s, ~1m10s left`.
    static func timing(_ j: JobSummary) -> String {
        guard let running = j.runningSeconds else { return "-" }
        return span(running) + (j.etaSeconds.map { ", ~\(span($0)) left" } ?? "")
    }

    /// All jobs, one line each.
    public static func jobs(_ r: StatusReport) -> String {
        var lines = [pad("job", 14) + pad("state", 11) + pad("prio", 5) + pad("tasks", 10) + pad("frames", 14)
                     + pad("time", 20) + "title"]
        for j in r.jobs {
            lines.append(pad(j.id, 14) + pad(j.state, 11) + pad("\(j.priority)", 5) + pad("\(j.tasksDone)/\(j.tasksTotal)", 10)
                         + pad("\(j.framesDone)/\(j.framesTotal)", 14) + pad(timing(j), 20) + j.title + revision(j)
                         + (j.error.map { "  (\($0))" } ?? "") + (j.waiting.map { "  (waiting: \($0))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    /// `  [rev 2 of j1234]` for a revision; nothing for a film's first job.
    static func revision(_ j: JobSummary) -> String {
        guard let r = j.revision, r > 1, let film = j.film else { return "" }
        return "  [rev \(r) of \(film)]"
    }

    /// One job: a bar per shot, then its tasks.
    public static func job(_ r: StatusReport, tasks showTasks: Bool = true) -> String {
        guard let j = r.jobs.first else { return "no such job" }
        var lines = ["\(j.id)  \(j.state)  \(j.title)\(revision(j))  \(j.tasksDone)/\(j.tasksTotal) tasks  \(j.framesDone)/\(j.framesTotal) frames"
                     + (j.reused.map { $0 > 0 ? "  (\($0) reused)" : "" } ?? "")
                     + (j.runningSeconds == nil ? "" : "  \(timing(j))") + (j.error.map { "\n  error: \($0)" } ?? "")
                     + (j.waiting.map { "\n  waiting: \($0)" } ?? "")]
        lines += shotBars(r)
        if showTasks, let tasks = r.tasks {
            lines.append("")
            lines.append(pad("task", 20) + pad("state", 10) + pad("attempt", 8) + pad("step", 8) + "worker")
            for t in tasks {
                lines.append(pad(t.key, 20) + pad(t.state, 10) + pad("\(t.attempts)", 8) + pad(t.steps > 0 ? "\(t.step)/\(t.steps)" : "-", 8)
                             + (t.reusedFrom.map { "reused \($0)" } ?? t.worker ?? "-") + (t.error.map { "  \($0)" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A progress bar per shot: frames of finished segments, with denoising steps of running ones counted in.
    public static func shotBars(_ r: StatusReport) -> [String] {
        guard let tasks = r.tasks, let shots = r.shots else { return [] }
        return shots.enumerated().map { i, id in
            let mine = tasks.filter { $0.shot == i && $0.frames > 0 }
            let total = mine.reduce(0) { $0 + $1.frames }
            let done = mine.reduce(0.0) { acc, t in
                acc + (t.state == "done" ? Double(t.frames) : t.state == "running" && t.steps > 0 ? Double(t.frames * t.step) / Double(t.steps) : 0)
            }
            return "  " + pad(id, 16) + bar(Int(done), total) + String(format: " %3d%%", total > 0 ? Int(done * 100) / total : 100)
        }
    }

    /// The workers and the refused-message counters.
    public static func workers(_ r: WorkersReport) -> String {
        var lines = [pad("worker", 16) + pad("state", 10) + pad("device", 7) + pad("slots", 7) + pad("busy", 5) + pad("seen", 8) + "engines"]
        for w in r.workers {
            lines.append(pad(w.id, 16) + pad(w.state, 10) + pad(w.device, 7) + pad("\(w.slots)", 7) + pad("\(w.busy)", 5)
                         + pad(w.secondsSinceSeen >= 0 ? String(format: "%.1fs", w.secondsSinceSeen) : "-", 8)
                         + w.engines.joined(separator: ",") + (w.tags.isEmpty ? "" : "  tags: \(w.tags.joined(separator: ","))"))
        }
        if let total = r.total, total > r.workers.count {
            let from = (r.offset ?? 0) + 1
            lines.append("workers \(from)–\(from + r.workers.count - 1) of \(total) (--offset N for more)")
        }
        if let connected = r.connected {
            let states = (r.states ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            lines.append("connected: \(connected)" + (r.capacity.map { " of at most \($0) (descriptor limit)" } ?? "")
                         + (states.isEmpty ? "" : "; rows by state: \(states)"))
        }
        if !r.refused.isEmpty {
            lines.append("refused messages: " + r.refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    /// JSON of any reply, for `--json`.
    public static func json(_ value: some Encodable) -> String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self)
    }
}
