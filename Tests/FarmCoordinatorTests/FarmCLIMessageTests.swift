import FarmTesting
import Foundation
import Testing

/// What the farm commands say about endpoints, output files and data directories: exit status and the words.
@Suite(.serialized, .ownThreads) struct FarmCLIMessageTests {
    func cli(_ arguments: [String], seconds: Double = 30) throws -> ProcessRunner.Output {
        let out = try ProcessRunner.run(reelfarm, arguments, timeout: seconds)
        #expect(!out.timedOut, "reelfarm \(arguments.joined(separator: " ")) ran past \(seconds) s")
        return out
    }

    @Test(.timeLimit(.minutes(1))) func fetchRefusesAMissingOutputFolderBeforeAsking() throws {
        let dir = try temporaryDirectory("fetch")
        let film = dir.appendingPathComponent("missing/dir/x.mp4").path
        // Nothing listens on port 1: the folder is checked before the coordinator is asked.
        let out = try cli(["fetch", "j-1", "-o", film, "--coordinator", "tcp://127.0.0.1:1", "--timeout", "1"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("cannot write \(film): folder \(dir.path)/missing/dir does not exist (create it first)"),
                "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test(.timeLimit(.minutes(1))) func hostPortIsTakenAsTCP() throws {
        let dir = try temporaryDirectory()
        let (coordinator, endpoint) = try inProcessCoordinator(dir)
        defer { coordinator.stop(); coordinator.wait() }
        let bare = String(endpoint.dropFirst("tcp://".count))
        let out = try cli(["status", "--coordinator", bare, "--timeout", "5"])
        #expect(out.status == 0, "stderr: \(out.stderr)")
        let env = try ProcessRunner.run(reelfarm, ["status", "--timeout", "5"],
                                        environment: ["REELFARM_COORDINATOR": bare], timeout: 30)
        #expect(env.status == 0, "stderr: \(env.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func anEndpointWithoutSchemeOrPortIsRefusedWithTheForm() throws {
        let out = try cli(["status", "--coordinator", "localhost"])
        #expect(out.status == 64)
        #expect(out.stderr.contains("--coordinator \"localhost\" is not an endpoint: use tcp://HOST:PORT"), "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("errno"))
        let worker = try cli(["worker", "--coordinator", "tcp://127.0.0.1"])
        #expect(worker.status == 64 && worker.stderr.contains("needs a host and a port: use tcp://HOST:PORT"), "\(worker.stderr)")
        let data = try temporaryDirectory("bind")
        let bind = try cli(["coordinator", "--data", data.path, "--bind", "127.0.0.1"])
        #expect(bind.status == 64 && bind.stderr.contains("--bind \"127.0.0.1\" is not an endpoint: use tcp://HOST:PORT"),
                "\(bind.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func anUnwritableDataDirectoryIsNamed() throws {
        // Root may write anywhere permissions allow nothing; /proc/self refuses everyone.
        let data: String
        if getuid() == 0 {
            data = "/proc/self"
        } else {
            let dir = try temporaryDirectory("readonly")
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: dir.path)
            data = dir.path
        }
        let out = try cli(["coordinator", "--data", data, "--bind", "tcp://127.0.0.1:*"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("data directory \(data) is not writable (check its permissions)"), "stderr: \(out.stderr)")
        #expect(!out.stderr.contains("NSCocoaErrorDomain"))
        let file = try temporaryDirectory("file").appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        let notFolder = try cli(["coordinator", "--data", file.appendingPathComponent("data").path, "--bind", "tcp://127.0.0.1:*"])
        #expect(notFolder.status == 1 && notFolder.stderr.contains("\(file.path) is a file, not a folder"), "\(notFolder.stderr)")
    }
}
