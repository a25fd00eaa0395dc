#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A child process started with `posix_spawn` that neither leaks descriptors nor borrows them.
///
/// Why not Foundation's `Process`: on Linux it closes the child's descriptors only up to the highest one open when it
/// listed `/proc/self/fd`, and its pipes and the socket pair it watches for the exit are not close-on-exec. A second
/// child started by another thread at the same moment inherits them, and then the first child's exit and end of
/// output are not seen until the second one exits: a 5 ms run took 8 s beside a spawner of 8-second sleepers
/// (`Tests/FarmPosixTests`), and in the test suite quick CLI runs waited on farms other tests had started.
///
/// Here every descriptor this type makes is close-on-exec, the child closes everything from 3 up before it runs,
/// the exit is read with `waitpid`, and the child starts with default signal handling and an empty signal mask
/// (a worker ignores SIGTERM for its own handler; its engines must not inherit that).
public final class ChildProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// A new pipe; the parent's end is in ``standardInput``, ``standardOutput`` or ``standardError``.
        case pipe
        /// An open descriptor of the parent (e.g. a log file), duplicated into the child.
        case descriptor(Int32)
    }

    /// How the child ended.
    public enum Termination: Equatable, Sendable {
        /// `exit(status)`.
        case exited(Int32)
        /// Killed by a signal.
        case signalled(Int32)
    }

    /// A spawn that failed, with the program and the system's reason.
    public struct SpawnError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public let executable: URL
    public let processIdentifier: pid_t
    /// The parent's end of the child's stdin when it is ``Stream/pipe``.
    public let standardInput: FileHandle?
    /// The parent's end of the child's stdout when it is ``Stream/pipe``.
    public let standardOutput: FileHandle?
    /// The parent's end of the child's stderr when it is ``Stream/pipe``.
    public let standardError: FileHandle?

    private let lock = NSLock()
    private var ended: Termination?

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - environment: the child's environment; this process's when nil.
    ///   - processGroup: put the child in a process group of its own (as Foundation's `Process` does), so a
    ///     terminal's Ctrl-C reaches only the parent, which decides what its children get.
    /// - Throws: ``SpawnError`` naming the program when it cannot be started.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                stdin: Stream = .null, stdout: Stream = .inherit, stderr: Stream = .inherit,
                processGroup: Bool = true) throws {
        self.executable = executable
        let path = executable.path
        guard access(path, X_OK) == 0 else {
            throw SpawnError(description: "cannot run \(path): \(String(cString: strerror(errno)))")
        }
        var parentEnds: [Int32] = []  // closed on failure
        var childEnds: [Int32] = []   // always closed in the parent after the spawn
        defer { for fd in childEnds { close(fd) } }
        func end(_ stream: Stream, child: Int32) throws -> (childFD: Int32?, parent: FileHandle?) {
            switch stream {
            case .inherit: return (nil, nil)
            case .descriptor(let fd): return (fd, nil)
            case .null:
                let fd = open("/dev/null", (child == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC)
                guard fd >= 0 else { throw SpawnError(description: "cannot open /dev/null: \(String(cString: strerror(errno)))") }
                childEnds.append(fd)
                return (fd, nil)
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard Self.closeOnExecPipe(&fds) == 0 else {
                    throw SpawnError(description: "cannot make a pipe for \(path): \(String(cString: strerror(errno)))")
                }
                let (childFD, parentFD) = child == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds.append(childFD)
                parentEnds.append(parentFD)
                return (childFD, FileHandle(fileDescriptor: parentFD, closeOnDealloc: true))
            }
        }
        do {
            let streams = try [(stdin, Int32(0)), (stdout, 1), (stderr, 2)].map { try end($0.0, child: $0.1) }
            processIdentifier = try Self.spawn(path, arguments, environment: environment,
                                               streams: streams.map(\.childFD), processGroup: processGroup)
            standardInput = streams[0].parent
            standardOutput = streams[1].parent
            standardError = streams[2].parent
        } catch {
            for fd in parentEnds { close(fd) }
            throw error
        }
    }

    deinit {
        // Never leave a zombie: a child still running when its owner lets go is reaped by a thread of its own.
        guard termination == nil else { return }
        let pid = processIdentifier
        let reaper = Thread { var status: Int32 = 0; while waitpid(pid, &status, 0) == -1 && errno == EINTR {} }
        reaper.name = "reelfarm-reap"
        reaper.start()
    }

    /// How the child ended, or nil while it runs (reaps it the first time it is seen ended).
    public var termination: Termination? {
        lock.withLock {
            if let ended { return ended }
            var status: Int32 = 0
            var r: pid_t
            repeat { r = waitpid(processIdentifier, &status, WNOHANG) } while r == -1 && errno == EINTR
            guard r == processIdentifier else { return nil }
            let signal = status & 0x7f
            ended = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            return ended
        }
    }

    public var isRunning: Bool { termination == nil }

    /// The exit status, or the signal's number when a signal killed it (as Foundation's `terminationStatus`).
    /// Waits for the end.
    public var terminationStatus: Int32 {
        switch waitUntilExit() {
        case .exited(let s), .signalled(let s): return s
        }
    }

    /// Waits for the child to end, polling every 5 ms (no thread of this process is needed for it to be seen).
    @discardableResult
    public func waitUntilExit() -> Termination {
        while true {
            if let t = termination { return t }
            usleep(5_000)
        }
    }

    /// Waits at most `seconds`; nil when the child still runs.
    public func wait(seconds: Double) -> Termination? {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let t = termination { return t }
            usleep(5_000)
        }
        return termination
    }

    /// Sends `signal` unless the child has already been reaped (its pid may then belong to someone else).
    public func send(_ signal: Int32) {
        lock.withLock { if ended == nil { _ = kill(processIdentifier, signal) } }
    }

    private static func spawn(_ path: String, _ arguments: [String], environment: [String: String]?,
                              streams: [Int32?], processGroup: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in streams.enumerated() {
            guard let source else { continue }
            posix_spawn_file_actions_adddup2(&actions, source, Int32(target))
        }
        closeFromThree(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if processGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + env { free(p) } }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, path, &actions, &attributes, argv, env)
        guard r == 0 else { throw SpawnError(description: "cannot run \(path): \(String(cString: strerror(r)))") }
        return pid
    }

    /// Adds "close every descriptor from 3 up" to `actions`: glibc's `posix_spawn_file_actions_addclosefrom_np`
    /// (2.34 and later; the Swift overlay does not export it, so it is looked up), else one close per descriptor
    /// open now. Descriptors opened later by other threads are this process's own close-on-exec ones, or the
    /// same race Foundation has.
    private static func closeFromThree(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = closeFrom {
            let call = unsafeBitCast(symbol, to: CloseFrom.self)
            if call(actions, 3) == 0 { return }
        }
        guard let dir = opendir("/proc/self/fd") else { return }
        defer { closedir(dir) }
        let own = dirfd(dir)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd > 2, fd != own { posix_spawn_file_actions_addclose(actions, fd) }
        }
    }

    /// `pipe2(fds, O_CLOEXEC)`: both ends close-on-exec from birth, so no sibling started meanwhile inherits them.
    /// Glibc has it since 2.9, but the Swift overlay does not export it; without it, `pipe` and then `fcntl`.
    private static func closeOnExecPipe(_ fds: UnsafeMutablePointer<Int32>) -> Int32 {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
        if let symbol = pipe2Symbol { return unsafeBitCast(symbol, to: Pipe2.self)(fds, O_CLOEXEC) }
        guard pipe(fds) == 0 else { return -1 }
        for fd in [fds[0], fds[1]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    private nonisolated(unsafe) static let pipe2Symbol: UnsafeMutableRawPointer? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2")

    private nonisolated(unsafe) static let closeFrom: UnsafeMutableRawPointer? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
}
