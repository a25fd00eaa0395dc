import FlyingSocks
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FrontDoor {
    /// The name every door's socket directory starts with, under `/tmp`.
    static let directoryPrefix = "reelfarm-http-"

    /// Removes the socket directories of doors whose process died without ``stop()`` (SIGKILL, a crash, the power):
    /// each is `/tmp/reelfarm-http-XXXXXX` holding at most `server.sock`. A directory goes only when all of this
    /// holds, so a living coordinator's, another user's or anything else is never touched:
    /// - it is a real directory (not a link) owned by this user, with the door's name;
    /// - it was last changed more than `age` seconds ago (a door binds its socket within moments of making it);
    /// - it holds nothing but `server.sock`, and that, if there, is a socket nobody listens on (connecting is refused
    ///   at once; a full backlog or any other answer counts as alive).
    ///
    /// Returns the directories removed. Never throws: what cannot be read or removed is left as it is.
    @discardableResult
    static func removeLeftovers(under parent: String = "/tmp", olderThan age: TimeInterval = 60) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return [] }
        let now = Date().timeIntervalSince1970
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix(directoryPrefix) {
            let directory = parent + "/" + name
            var info = stat()
            guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
                  now - TimeInterval(info.st_mtim.tv_sec) > age,
                  let inside = try? FileManager.default.contentsOfDirectory(atPath: directory),
                  inside.allSatisfy({ $0 == "server.sock" }) else { continue }
            let socketPath = directory + "/server.sock"
            if !inside.isEmpty {
                guard lstat(socketPath, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK, !listening(socketPath),
                      unlink(socketPath) == 0 else { continue }
            }
            if rmdir(directory) == 0 { removed.append(directory) }
        }
        return removed
    }

    /// Whether something accepts connections on the Unix socket at `path`: only a refusal (nobody bound, or the
    /// socket file outlived its listener) or a missing file says no. The attempt never blocks.
    static func listening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var address = sockaddr_un.unix(path: path)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0 || (errno != ECONNREFUSED && errno != ENOENT)
    }
}
