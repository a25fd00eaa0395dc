@testable import FarmStore
import Foundation
import GRDB
import Testing

/// The log is copied back by the store's own thread, never by the writer's commits below the ceiling, and stays
/// bounded; what was committed is there for another connection and after reopening.
@Suite(.timeLimit(.minutes(2))) struct WALCheckpointerTests {
    func walBytes(_ dir: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("reelfarm.sqlite-wal").path))?[.size] as? Int) ?? 0
    }

    /// The threshold and the ceiling an eighth of production's: 1 MiB and 8 MiB of log.
    static func scaleDown(_ store: FarmStore) {
        store.checkpointer.signal.lock.withLock {
            store.checkpointer.signal.threshold = WALCheckpointer.threshold / 8
            store.checkpointer.signal.ceiling = WALCheckpointer.ceiling / 8
        }
    }

    /// A scaled-down store in `dir` whose thread is stopped (only the writer checkpoints), with a `scratch` table.
    static func writerOnlyStore(_ dir: URL) throws -> FarmStore {
        let store = try FarmStore(directory: dir)
        store.checkpointer.stop()
        scaleDown(store)
        try store.db.write { try $0.execute(sql: "CREATE TABLE scratch (n INTEGER PRIMARY KEY, body BLOB)") }
        return store
    }

    @Test func theThreadCopiesTheLogBackAndItStaysBounded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let blob = Data(repeating: 0x5A, count: 16 << 10)
        do {
            let store = try FarmStore(directory: dir)
            Self.scaleDown(store)
            try store.db.write { try $0.execute(sql: "CREATE TABLE scratch (n INTEGER PRIMARY KEY, body BLOB)") }
            // 12 MiB in 768 commits of 16 KiB, 2 ms apart, as a busy loop's iterations would write them: twelve times the
            // threshold (scaled down eightfold, as the ceiling, to spare the disk other tests share), and past the
            // ceiling only if nobody copies the log back.
            for n in 0..<768 {
                try store.db.write { try $0.execute(sql: "INSERT INTO scratch (n, body) VALUES (?, ?)", arguments: [n, blob]) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            let deadline = Date().addingTimeInterval(20)
            while store.checkpoints.copiedFrames == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            let stats = store.checkpoints
            #expect(stats.checkpoints >= 1 && stats.copiedFrames > 0 && stats.failures == 0, "\(stats)")
            #expect(stats.inline == 0, "the writer had to checkpoint by itself: \(stats)")
            // The log started over at least once: its file never held the 12 MiB.
            #expect(walBytes(dir) < 8 << 20, "\(walBytes(dir)) bytes of WAL")
            // Another connection sees every commit.
            let reader = try DatabaseQueue(path: dir.appendingPathComponent("reelfarm.sqlite").path)
            #expect(try reader.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM scratch") } == 768)
        }
        // Reopened: all there, nothing to recover twice.
        let again = try FarmStore(directory: dir)
        #expect(try again.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM scratch") } == 768)
    }

    /// Past the ceiling the writer checkpoints by itself after its commit, as SQLite's automatic checkpoint would (the
    /// thread cannot keep up, or is not running): the log is bounded either way.
    @Test func pastTheCeilingTheWriterCheckpointsItself() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Self.writerOnlyStore(dir)
        let blob = Data(repeating: 0xA5, count: 1 << 20)
        for n in 0..<12 {
            try store.db.write { try $0.execute(sql: "INSERT INTO scratch (n, body) VALUES (?, ?)", arguments: [n, blob]) }
        }
        let stats = store.checkpoints
        #expect(stats.inline >= 1 && stats.checkpoints == 0, "\(stats)")
        #expect(walBytes(dir) < 12 << 20, "\(walBytes(dir)) bytes of WAL")
    }

    /// The writer's own checkpoint past the ceiling finds another connection's checkpoint under way (the thread's, in
    /// production): SQLite answers SQLITE_BUSY, and the commits that ran it still succeed. Here a FULL checkpoint holds
    /// the checkpoint lock while it waits, in its busy handler, for the write lock the test's writer holds.
    @Test func aBusyCheckpointNeverFailsTheCommitThatRanIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try Self.writerOnlyStore(dir)

        final class Gate: @unchecked Sendable {
            let lock = NSLock()
            var waiting = false, released = false
            func until(_ flag: () -> Bool) {
                let deadline = Date().addingTimeInterval(30)
                while !lock.withLock(flag), Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
            }
        }
        let gate = Gate()
        var config = Configuration()
        config.busyMode = .callback { _ in
            gate.lock.withLock { gate.waiting = true }
            gate.until { gate.released }
            return true
        }
        let other = try DatabaseQueue(path: dir.appendingPathComponent("reelfarm.sqlite").path, configuration: config)
        let holding = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        // The writer holds the write lock while the other connection's FULL checkpoint takes the checkpoint lock and
        // waits for it.
        DispatchQueue.global().async {
            try? store.db.write { db in
                try db.execute(sql: "INSERT INTO scratch (n, body) VALUES (-1, x'00')")
                holding.signal()
                gate.until { gate.waiting }
            }
        }
        holding.wait()
        DispatchQueue.global().async {
            _ = try? other.inDatabase { try $0.checkpoint(.full) }
            done.signal()
        }
        gate.until { gate.waiting }
        #expect(gate.lock.withLock { gate.waiting }, "the FULL checkpoint never waited")
        // 12 MiB while the checkpoint lock is taken: every commit past the ceiling runs the writer's own checkpoint,
        // which is refused, and none of them may fail.
        let blob = Data(repeating: 0x3C, count: 1 << 20)
        var failures: [String] = []
        for n in 0..<12 {
            do {
                try store.db.write { try $0.execute(sql: "INSERT INTO scratch (n, body) VALUES (?, ?)", arguments: [n, blob]) }
            } catch { failures.append("insert \(n): \(error)") }
        }
        gate.lock.withLock { gate.released = true }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(store.checkpoints.inline >= 1, "\(store.checkpoints)")
        #expect(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM scratch") } == 13)
    }
}
