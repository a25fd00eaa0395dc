#if canImport(Glibc)
import Glibc
#endif
import FarmCore
import FarmPosix
import Foundation

/// Deadlines and limits a worker holds its engine processes to.
public struct EngineHostSettings: Sendable {
    /// From start to `ready` (loading weights takes time).
    public var startSeconds: Double = 600
    /// The longest a running task may go without a message from its engine.
    public var silenceSeconds: Double = 900
    /// How long a cancelled task has to answer before its process is killed.
    public var cancelSeconds: Double = 30
    /// How long a process has to exit after `shutdown`.
    public var exitSeconds: Double = 10
    /// Where the engine's stderr lines go (the worker's log).
    public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init() {}
}

/// A task failed inside a healthy engine (`failed`): the attempt fails, the process stays.
public struct EngineTaskFailed: Error, Sendable, CustomStringConvertible {
    public var engine: String
    public var message: String
    public var description: String { "engine \(engine) failed the task: \(message)" }
}

/// The engine process died, went silent or broke the contract: the attempt fails and the process is replaced.
public struct EngineProcessError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One engine process, started from its command and kept warm across tasks. One task at a time.
public final class EngineProcess: @unchecked Sendable {
    public let command: EngineCommand
    public let slot: Int
    public let settings: EngineHostSettings
    /// A ChildProcess, not Foundation's Process: Foundation's pipes leak into a sibling started at the same moment
    /// (two slots starting their engines), and then this engine's death would not read as end-of-file.
    private var process: ChildProcess?
    private var channel: EngineChannel?
    private var stderrPump: Thread?
    /// The parent's ends of stdin and stdout: held while the channel uses their descriptors, closed after it.
    private var pipes: [FileHandle] = []
    /// The handshake of the running process.
    public private(set) var ready: EngineReady?
    /// Seconds from start to `ready` of the last start.
    public private(set) var startSeconds: Double = 0

    public init(command: EngineCommand, slot: Int, settings: EngineHostSettings) {
        self.command = command
        self.slot = slot
        self.settings = settings
    }

    deinit { kill() }

    private var label: String { "engine \(command.name)[\(slot)]" }

    public var isRunning: Bool { process?.isRunning == true && channel != nil }

    /// Starts the process (when it is not running) and waits for its `ready`.
    /// - Throws: ``EngineProcessError`` when it cannot start, dies, says something else first, or is not ready in time.
    @discardableResult
    public func start() throws -> EngineReady {
        if isRunning, let ready { return ready }
        kill()
        let words = command.words(slot: slot)
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        env["REELFARM_ENGINE_SLOT"] = String(slot)
        let t0 = EngineChannel.now()
        let p: ChildProcess
        do {
            p = try ChildProcess(try Self.executable(words[0]), Array(words.dropFirst()), environment: env,
                                 stdin: .pipe, stdout: .pipe, stderr: .pipe)
        } catch let error as ChildProcess.SpawnError {
            throw EngineProcessError("\(label): cannot start \(words[0]): \(error)")
        }
        guard let stdin = p.standardInput, let stdout = p.standardOutput, let stderr = p.standardError else {
            p.send(SIGKILL)
            throw EngineProcessError("\(label): \(words[0]) started without its pipes")
        }
        process = p
        let channel = EngineChannel(input: stdout.fileDescriptor, output: stdin.fileDescriptor)
        self.channel = channel
        pipes = [stdin, stdout]
        pumpStderr(stderr)
        do {
            let m = try channel.receive(until: t0 + settings.startSeconds, maxBytes: 0)
            guard m.kind == .ready else { throw EngineContractError("first message is \(m.kind), not ready") }
            let r = try m.payload(EngineReady.self)
            _ = try r.validated(as: command.name)
            ready = r
            startSeconds = EngineChannel.now() - t0
            settings.log("\(label): ready in \(String(format: "%.1f", startSeconds)) s: \(r.version) on \(r.device)")
            return r
        } catch {
            kill()
            throw EngineProcessError("\(label) did not start: \(describe(error))")
        }
    }

    /// Sends `request` and answers its progress until the task's `result`, which it returns.
    /// - Parameters:
    ///   - maxBytes: the most the result's blobs may hold.
    ///   - progress: called for each `progress`; when it throws, the task is cancelled and its error rethrown.
    /// - Throws: ``EngineTaskFailed`` (the engine stays), ``EngineProcessError`` (the process is killed), or the
    ///   progress handler's error.
    public func run(_ request: EngineMessage, task: String, maxBytes: Int, progress: ProgressHandler) throws -> EngineMessage {
        try start()
        guard let channel else { throw EngineProcessError("\(label) is not running") }
        var cancelling: (any Error, Double)?
        do {
            try channel.send(request, until: EngineChannel.now() + settings.silenceSeconds)
            while true {
                let deadline = cancelling.map { $0.1 + settings.cancelSeconds } ?? EngineChannel.now() + settings.silenceSeconds
                let m = try channel.receive(until: deadline, maxBytes: maxBytes)
                let note = try m.payload(TaskNote.self)
                guard note.task == task else {
                    throw EngineContractError("\(m.kind) is about task \"\(note.task.prefix(80))\", the running task is \(task)")
                }
                switch m.kind {
                case .progress:
                    guard let done = note.done, let total = note.total, total >= 1, (0...total).contains(done) else {
                        throw EngineContractError("progress needs 0 ≤ done ≤ total and total ≥ 1")
                    }
                    guard cancelling == nil else { continue }
                    do { try progress(done, total) } catch {
                        cancelling = (error, EngineChannel.now())
                        try channel.send(EngineMessage(.cancel, TaskNote(task: task)), until: EngineChannel.now() + settings.cancelSeconds)
                    }
                case .result:
                    if let (error, _) = cancelling { throw error }
                    return m
                case .failed:
                    if let (error, _) = cancelling { throw error }
                    throw EngineTaskFailed(engine: command.name, message: String((note.message ?? "no reason given").prefix(4_000)))
                case .cancelled:
                    guard let (error, _) = cancelling else { throw EngineContractError("cancelled, but nothing was cancelled") }
                    throw error
                default:
                    throw EngineContractError("unexpected \(m.kind) while a task runs")
                }
            }
        } catch let error as EngineContractError {
            kill()
            throw EngineProcessError("\(label) broke the contract: \(error.description); restarting it for the next task")
        } catch let error as EngineChannel.ChannelError {
            let status = exitStatus()
            kill()
            throw EngineProcessError("\(label) \(status ?? error.description); restarting it for the next task")
        }
    }

    /// Asks the process to exit, then kills it if it has not within `exitSeconds`.
    public func stop() {
        guard let p = process, p.isRunning else { kill(); return }
        try? channel?.send(EngineMessage(.shutdown), until: EngineChannel.now() + 1)
        let end = EngineChannel.now() + settings.exitSeconds
        while p.isRunning && EngineChannel.now() < end { usleep(20_000) }
        kill()
    }

    /// Kills the process at once (SIGKILL) and forgets it.
    public func kill() {
        process?.send(SIGKILL)
        process = nil
        channel = nil
        pipes = []
        ready = nil
    }

    /// The process's pid while it runs.
    public var pid: Int32? { process?.isRunning == true ? process?.processIdentifier : nil }

    /// "exited with status N" / "was killed by signal N" once the process has ended.
    private func exitStatus() -> String? {
        guard let p = process else { return nil }
        let end = EngineChannel.now() + 1
        while p.isRunning && EngineChannel.now() < end { usleep(10_000) }
        switch p.termination {
        case nil: return nil
        case .signalled(let s): return "was killed by signal \(s)"
        case .exited(let s): return "exited with status \(s)"
        }
    }

    private func describe(_ error: any Error) -> String {
        if let s = exitStatus() { return "it \(s) (\(error))" }
        return "\(error)"
    }

    /// Copies the process's stderr into the log, line by line, until it closes.
    private func pumpStderr(_ handle: FileHandle) {
        let label = self.label
        let log = settings.log
        let t = Thread {
            let fd = handle.fileDescriptor
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 1_000) <= 0 { continue }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                pending.append(contentsOf: buffer[0..<n])
                while let nl = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...nl)
                    log("\(label): \(line.prefix(2_000))")
                }
                if pending.count > 65_536 {
                    log("\(label): \(String(decoding: pending.prefix(2_000), as: UTF8.self))")
                    pending.removeAll()
                }
            }
            if !pending.isEmpty { log("\(label): \(String(decoding: pending.prefix(2_000), as: UTF8.self))") }
            try? handle.close()
        }
        t.name = "reelfarm-engine-stderr"
        t.start()
        stderrPump = t
    }

    /// The program to run: a path, or a name looked up on PATH.
    static func executable(_ word: String) throws -> URL {
        if word.contains("/") { return URL(fileURLWithPath: word) }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(word)"
            if access(path, X_OK) == 0 { return URL(fileURLWithPath: path) }
        }
        throw EngineProcessError("engine command \(word) is not on PATH")
    }
}
