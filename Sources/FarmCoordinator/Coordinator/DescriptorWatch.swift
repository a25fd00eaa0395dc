import Foundation

/// Counts the process's open descriptors once a second on a thread of its own and says when they run short, so that
/// the ZAP handler turns new peers away before `accept` fails. (When libzmq's `accept` fails for want of a descriptor
/// its I/O thread spins on the listening socket, and nothing else in the process can open a file or a socket.)
final class DescriptorWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    private var short = false
    private var stopping = false
    private let soft: Int
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter soft: the soft limit (``DescriptorLimit``).
    init(soft: Int) { self.soft = soft }

    /// Whether new peers must wait: fewer than half the reserve is left.
    var isShort: Bool { lock.withLock { short } }
    var openDescriptors: Int { lock.withLock { open } }

    func start() {
        let thread = Thread { [self] in
            Thread.current.name = "reelfarm-fds"  // named from inside: Linux keeps at most 15 characters
            while !lock.withLock({ stopping }) {
                let n = Self.count()
                lock.withLock {
                    open = n
                    // Hysteresis: refuse below half the reserve, admit again once a full reserve is free.
                    if n >= soft - DescriptorLimit.reserve / 2 { short = true } else if n < soft - DescriptorLimit.reserve { short = false }
                }
                Thread.sleep(forTimeInterval: lock.withLock { short } ? 0.2 : 1)
            }
            finished.signal()
        }
        thread.start()
    }

    func stop() {
        lock.withLock { stopping = true }
        finished.wait()
    }

    /// Entries of /proc/self/fd (0 where there is no /proc).
    static func count() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var n = 0
        while readdir(dir) != nil { n += 1 }
        return max(0, n - 3)  // ".", ".." and the directory's own descriptor
    }
}
