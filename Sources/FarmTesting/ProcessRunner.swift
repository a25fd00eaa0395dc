import FarmPosix
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
        // ChildProcess, not Foundation's Process: Foundation's pipes leak into children other tests start at the
        // same moment, and then this run's end is not seen until theirs (quick runs waited on other tests' farms).
        let process = try ChildProcess(executable, arguments, environment: environment,
                                       stdin: .null, stdout: .pipe, stderr: .pipe)
        // Dedicated threads, not Dispatch's global queue: its few threads (as many as cores) can all be blocked in
        // other tests' reads, which once starved a quick run past its test's time limit on a loaded 2-core machine.
        let collected = Collected()
        let done = DispatchSemaphore(value: 0)
        for (handle, isOut) in [(process.standardOutput, true), (process.standardError, false)] {
            let reader = Thread {
                collected.set(handle?.readDataToEndOfFile() ?? Data(), isOut: isOut)
                done.signal()
            }
            reader.name = "ProcessRunner-read"
            reader.start()
        }
        var timedOut = false
        if let timeout, process.wait(seconds: timeout) == nil {
            timedOut = true
            process.send(SIGKILL)
        }
        let status = process.terminationStatus
        // A killed child's own children may still hold the pipes: after a timeout, wait for the output only briefly.
        for _ in 0..<2 { _ = timedOut ? done.wait(timeout: .now() + 10) : done.wait(timeout: .distantFuture) }
        let note = timedOut ? "\nProcessRunner: \(executable.lastPathComponent) ran past \(timeout ?? 0) s and was killed\n" : ""
        return Output(status: status, stdout: String(decoding: collected.out, as: UTF8.self),
                      stderr: String(decoding: collected.err, as: UTF8.self) + note, timedOut: timedOut)
    }

    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var out = Data(), err = Data()
        func set(_ d: Data, isOut: Bool) { lock.withLock { if isOut { out = d } else { err = d } } }
    }
}
