import Foundation

/// Runs a program to completion and captures what it printed. For end-to-end tests.
public enum ProcessRunner {
    /// The outcome of one run.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// The child ran past its time limit and was killed.
        public var timedOut = false
    }

    /// Runs `executable` with `arguments`; output is read concurrently so a chatty child never blocks.
    /// - Parameter timeout: seconds after which the child is killed (SIGKILL), `timedOut` set and a line saying so
    ///   added to its stderr: no test waits forever on a process.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           timeout: Double? = 180) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let killed = Collected()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                killed.lock.withLock {
                    guard !killed.finished else { return }
                    killed.timedOut = true
                    kill(pid, SIGKILL)
                }
            }
        }
        let group = DispatchGroup()
        let collected = Collected()
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.set(data, isOut: isOut)
                group.leave()
            }
        }
        group.wait()
        process.waitUntilExit()
        killed.lock.withLock { killed.finished = true }
        let timedOut = killed.lock.withLock { killed.timedOut }
        let note = timedOut ? "\nProcessRunner: \(executable.lastPathComponent) ran past \(timeout ?? 0) s and was killed\n" : ""
        return Output(status: process.terminationStatus, stdout: String(decoding: collected.out, as: UTF8.self),
                      stderr: String(decoding: collected.err, as: UTF8.self) + note, timedOut: timedOut)
    }

    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var out = Data(), err = Data()
        var timedOut = false, finished = false
        func set(_ d: Data, isOut: Bool) { lock.withLock { if isOut { out = d } else { err = d } } }
    }
}
