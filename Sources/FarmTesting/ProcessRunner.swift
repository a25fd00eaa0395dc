import Foundation

/// Runs a program to completion and captures what it printed. For end-to-end tests.
public enum ProcessRunner {
    /// The outcome of one run.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments`; output is read concurrently so a chatty child never blocks. A child still
    /// running after `timeout` seconds is killed (SIGKILL) and its output ends with a line saying so: no test waits
    /// forever on a process.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           timeout: Double = 180) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let killed = Collected()
        let watchdog = DispatchWorkItem {
            killed.set(Data("killed".utf8), isOut: true)
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
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
        watchdog.cancel()
        let note = killed.lock.withLock { killed.out.isEmpty } ? ""
            : "\nProcessRunner: \(executable.lastPathComponent) \(arguments.joined(separator: " ")) ran past \(timeout) s and was killed\n"
        return Output(status: process.terminationStatus, stdout: String(decoding: collected.out, as: UTF8.self),
                      stderr: String(decoding: collected.err, as: UTF8.self) + note)
    }

    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var out = Data(), err = Data()
        func set(_ d: Data, isOut: Bool) { lock.withLock { if isOut { out = d } else { err = d } } }
    }
}
