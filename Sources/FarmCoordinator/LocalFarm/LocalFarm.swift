import FarmPosix
import Foundation

/// A coordinator and workers as separate processes on loopback: `reelfarm demo` and the end-to-end tests.
public final class LocalFarm {
    public let executable: URL
    public let dataDirectory: URL
    public private(set) var endpoint = ""
    public private(set) var coordinator: ChildProcess?
    public private(set) var workers: [ChildProcess] = []
    let logDirectory: URL

    /// - Parameters:
    ///   - executable: the `reelfarm` binary.
    ///   - dataDirectory: the coordinator's data directory (kept, so a restarted coordinator resumes).
    public init(executable: URL, dataDirectory: URL) throws {
        self.executable = executable
        self.dataDirectory = dataDirectory
        logDirectory = dataDirectory.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts the coordinator on `bind` (a free port when it ends in `*`) and waits until it listens.
    public func startCoordinator(bind: String = "tcp://127.0.0.1:*", extra: [String] = [], timeout: Double = 20) throws {
        let file = dataDirectory.appendingPathComponent("endpoint")
        try? FileManager.default.removeItem(at: file)
        let p = try launch(["coordinator", "--data", dataDirectory.path, "--bind", bind] + extra, log: "coordinator")
        coordinator = p
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOf: file, encoding: .utf8), !text.isEmpty {
                endpoint = text
                return
            }
            guard p.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw StartError(description: "coordinator did not start; see \(logDirectory.appendingPathComponent("coordinator.log").path)")
    }

    /// Starts a worker process connected to the coordinator.
    @discardableResult
    public func startWorker(name: String, slots: Int = 1, extra: [String] = []) throws -> ChildProcess {
        let p = try launch(["worker", "--coordinator", endpoint, "--name", name, "--slots", "\(slots)"] + extra, log: name)
        workers.append(p)
        return p
    }

    private func launch(_ arguments: [String], log: String) throws -> ChildProcess {
        let logURL = logDirectory.appendingPathComponent("\(log).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        handle.seekToEndOfFile()
        defer { try? handle.close() }
        return try ChildProcess(executable, arguments, stdin: .null, stdout: .descriptor(handle.fileDescriptor),
                                stderr: .descriptor(handle.fileDescriptor))
    }

    /// Sends `signal` to a process and, unless it is SIGKILL, waits up to `timeout` for it to exit.
    public static func signal(_ p: ChildProcess, _ sig: Int32, timeout: Double = 10) {
        guard p.isRunning else { return }
        p.send(sig)
        if p.wait(seconds: timeout) == nil { p.send(SIGKILL) }
        p.waitUntilExit()
    }

    /// Stops everything cleanly: workers drain, then the coordinator.
    public func shutdown() {
        for w in workers { w.send(SIGTERM) }
        for w in workers { Self.signal(w, SIGTERM) }
        if let c = coordinator { Self.signal(c, SIGTERM) }
    }

    /// Kills the coordinator with SIGKILL (fault tests).
    public func killCoordinator() {
        if let c = coordinator { Self.signal(c, SIGKILL) }
        coordinator = nil
    }

    /// The log a process of this farm wrote.
    public func log(_ name: String) -> String {
        (try? String(contentsOf: logDirectory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }
}
