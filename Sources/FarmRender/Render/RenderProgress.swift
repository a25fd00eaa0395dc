import Foundation

/// Receives render progress; called from render threads.
public protocol RenderProgress: Sendable {
    /// A task started, advanced a denoising step, or finished.
    func update(_ snapshot: RenderSnapshot)
    /// The render ended (successfully or not).
    func finish()
}

/// Where a render stands.
public struct RenderSnapshot: Sendable {
    public var tasksDone: Int
    public var tasksTotal: Int
    public var framesDone: Int
    public var framesTotal: Int
    public var stage: String
}

/// A one-line progress bar on stderr, redrawn at most ten times a second; on a file or pipe, a plain line at every
/// tenth of the work instead (no carriage returns or escape codes in a log).
public final class ProgressBar: RenderProgress, @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    private var lastTenth = -1
    private let started = Date()
    private let terminal: Bool

    /// - Parameter terminal: draw the redrawn bar; by default, when stderr is a terminal.
    public init(terminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.terminal = terminal
    }

    public func update(_ s: RenderSnapshot) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard terminal else { return plainLine(s, now) }
        guard now.timeIntervalSince(last) >= 0.1 || s.tasksDone == s.tasksTotal else { return }
        last = now
        let width = 30
        let fraction = s.framesTotal > 0 ? Double(s.framesDone) / Double(s.framesTotal) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "\r[%@] %3d%%  %d/%d tasks  %d/%d frames  %.1fs  %@",
                          bar, Int(fraction * 100), s.tasksDone, s.tasksTotal, s.framesDone, s.framesTotal,
                          now.timeIntervalSince(started), s.stage)
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    public func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func plainLine(_ s: RenderSnapshot, _ now: Date) {
        let tenth = s.framesTotal > 0 ? s.framesDone * 10 / s.framesTotal : 0
        guard tenth > lastTenth || (s.tasksDone == s.tasksTotal && lastTenth < 11) else { return }
        lastTenth = s.tasksDone == s.tasksTotal ? 11 : tenth
        let line = String(format: "render: %3d%%  %d/%d tasks  %d/%d frames  %.1fs  %@\n",
                          tenth * 10, s.tasksDone, s.tasksTotal, s.framesDone, s.framesTotal,
                          now.timeIntervalSince(started), s.stage)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
