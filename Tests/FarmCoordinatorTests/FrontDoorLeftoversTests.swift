@testable import FarmCoordinator
import FlyingSocks
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A coordinator killed with SIGKILL leaves its door's socket directory behind; the next door removes such
/// directories, and nothing else.
@Suite(.timeLimit(.minutes(3))) struct FrontDoorLeftoversTests {
    /// A scratch parent (never /tmp itself, so other tests' doors are not in play) removed afterwards.
    final class Parent {
        let path: String
        init() throws {
            let name = (NSTemporaryDirectory() as NSString).appendingPathComponent("leftovers-XXXXXX")
            var template = Array(name.utf8CString)
            guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
            path = String(cString: made)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// A door directory: `socket` nil for none, false for a socket file whose listener is gone, true listening
        /// (the descriptor is returned, to close later); dated `age` seconds back.
        @discardableResult
        func door(_ name: String, socket listening: Bool?, extra: String? = nil, age: TimeInterval) throws -> Int32? {
            let directory = path + "/" + name
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            var kept: Int32?
            if let listening {
                let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_un.unix(path: directory + "/server.sock")
                let bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
                #expect(bound == 0)
                if listening {
                    #expect(listen(fd, 4) == 0)
                    kept = fd
                } else {
                    close(fd)
                }
            }
            if let extra { FileManager.default.createFile(atPath: directory + "/" + extra, contents: Data("x".utf8)) }
            let then = Date().addingTimeInterval(-age)
            try FileManager.default.setAttributes([.modificationDate: then], ofItemAtPath: directory)
            return kept
        }

        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path + "/" + name) }
    }

    @Test func deadDoorsDirectoriesGoAndEveryOtherStays() throws {
        let parent = try Parent()
        try parent.door("reelfarm-http-dead01", socket: false, age: 600)
        try parent.door("reelfarm-http-empty1", socket: nil, age: 600)
        let live = try parent.door("reelfarm-http-live01", socket: true, age: 600)
        defer { if let live { close(live) } }
        try parent.door("reelfarm-http-young1", socket: false, age: 0)
        try parent.door("reelfarm-http-young2", socket: nil, age: 0)
        try parent.door("reelfarm-http-other1", socket: false, extra: "notes.txt", age: 600)
        try parent.door("elsewhere-dead01", socket: false, age: 600)
        // A plain file and a link with the door's name are not directories of a door.
        FileManager.default.createFile(atPath: parent.path + "/reelfarm-http-file01", contents: Data())
        try FileManager.default.createSymbolicLink(atPath: parent.path + "/reelfarm-http-link01",
                                                   withDestinationPath: parent.path + "/elsewhere-dead01")

        let removed = FrontDoor.removeLeftovers(under: parent.path, olderThan: 60)

        #expect(removed == ["dead01", "empty1"].map { parent.path + "/reelfarm-http-" + $0 })
        for name in ["dead01", "empty1"] { #expect(!parent.exists("reelfarm-http-" + name)) }
        for name in ["live01", "young1", "young2", "other1", "file01", "link01"] {
            #expect(parent.exists("reelfarm-http-" + name), "reelfarm-http-\(name) was removed")
        }
        #expect(parent.exists("elsewhere-dead01/server.sock"))
        #expect(parent.exists("reelfarm-http-live01/server.sock"))
        // Run again: nothing more goes.
        #expect(FrontDoor.removeLeftovers(under: parent.path, olderThan: 60).isEmpty)
    }

    @Test func listeningIsTrueOnlyWhileSomebodyListens() throws {
        let parent = try Parent()
        let live = try parent.door("reelfarm-http-live01", socket: true, age: 0)
        try parent.door("reelfarm-http-dead01", socket: false, age: 0)
        #expect(FrontDoor.listening(parent.path + "/reelfarm-http-live01/server.sock"))
        #expect(!FrontDoor.listening(parent.path + "/reelfarm-http-dead01/server.sock"))
        #expect(!FrontDoor.listening(parent.path + "/reelfarm-http-none01/server.sock"))
        if let live { close(live) }
        #expect(!FrontDoor.listening(parent.path + "/reelfarm-http-live01/server.sock"))
    }

    /// A door that is made and stopped leaves nothing; one whose process is gone is cleared by the next door.
    @Test func aRealDoorsDirectoryIsRemovedByTheNextDoorOnceItsServerIsGone() throws {
        var any = sockaddr_in()
        any.sin_family = sa_family_t(AF_INET)
        any.sin_addr.s_addr = inet_addr("127.0.0.1")
        let first = try FrontDoor(address: any, text: "test door", flag: "--http")
        let directory = (first.backendPath as NSString).deletingLastPathComponent
        // A server that bound the socket and died: the file stays, nobody listens.
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un.unix(path: first.backendPath)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(fd)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-600)],
                                              ofItemAtPath: directory)
        // As if the process had been killed: its directory is still there. The next door's start clears it.
        #expect(FileManager.default.fileExists(atPath: directory))
        let second = try FrontDoor(address: any, text: "test door", flag: "--http")
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(FileManager.default.fileExists(atPath: (second.backendPath as NSString).deletingLastPathComponent))
        second.stop()
        first.stop()
        #expect(!FileManager.default.fileExists(atPath: (second.backendPath as NSString).deletingLastPathComponent))
    }
}
