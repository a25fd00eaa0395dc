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
        // Dedicated threads, not Dispatch's global queue: its few threads (as many as cores) can all be blocked in
        // other tests' reads, which once starved a quick run past its test's time limit on a loaded 2-core machine.
        let collected = Collected()
        let done = DispatchSemaphore(value: 0)
        for (pipe, isOut) in [(out, true), (err, false)] {
            let reader = Thread {
                collected.set(pipe.fileHandleForReading.readDataToEndOfFile(), isOut: isOut)
                done.signal()
            }
            reader.name = "ProcessRunner-read"
            reader.start()
        }
        var timedOut = false
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while process.isRunning {
            if let deadline, Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        // A killed child's own children may still hold the pipes: after a timeout, wait for the output only briefly.
        for _ in 0..<2 { _ = timedOut ? done.wait(timeout: .now() + 10) : done.wait(timeout: .distantFuture) }
        let note = timedOut ? "\nProcessRunner: \(executable.lastPathComponent) ran past \(timeout ?? 0) s and was killed\n" : ""
        return Output(status: process.terminationStatus, stdout: String(decoding: collected.out, as: UTF8.self),
                      stderr: String(decoding: collected.err, as: UTF8.self) + note, timedOut: timedOut)
    }

    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var out = Data(), err = Data()
        func set(_ d: Data, isOut: Bool) { lock.withLock { if isOut { out = d } else { err = d } } }
    }
}
