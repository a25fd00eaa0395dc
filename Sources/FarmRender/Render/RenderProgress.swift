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

/// A one-line progress bar on stderr, redrawn at most ten times a second.
public final class ProgressBar: RenderProgress, @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    private let started = Date()

    public init() {}

    public func update(_ s: RenderSnapshot) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
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
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
