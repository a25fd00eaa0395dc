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

    @Test func theThreadCopiesTheLogBackAndItStaysBounded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let blob = Data(repeating: 0x5A, count: 64 << 10)
        do {
            let store = try FarmStore(directory: dir)
            try store.db.write { try $0.execute(sql: "CREATE TABLE scratch (n INTEGER PRIMARY KEY, body BLOB)") }
            // 48 MiB in 768 commits of 64 KiB, 2 ms apart, as a busy loop's iterations would write them (24 MiB/s): three
            // times the old automatic threshold, and past the writer's own ceiling of 64 MiB only if nobody copies the log
            // back.
            for n in 0..<768 {
                try store.db.write { try $0.execute(sql: "INSERT INTO scratch (n, body) VALUES (?, ?)", arguments: [n, blob]) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            let deadline = Date().addingTimeInterval(20)
            while store.checkpoints.copiedFrames == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            let stats = store.checkpoints
            #expect(stats.checkpoints >= 1 && stats.copiedFrames > 0 && stats.failures == 0, "\(stats)")
            #expect(stats.inline == 0, "the writer had to checkpoint by itself: \(stats)")
            // The log started over at least once: its file never held the 48 MiB (the 64 MiB size limit cuts it after).
            #expect(walBytes(dir) < 40 << 20, "\(walBytes(dir)) bytes of WAL")
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
        let store = try FarmStore(directory: dir)
        store.checkpointer.stop()
        try store.db.write { try $0.execute(sql: "CREATE TABLE scratch (n INTEGER PRIMARY KEY, body BLOB)") }
        let blob = Data(repeating: 0xA5, count: 1 << 20)
        for n in 0..<80 {
            try store.db.write { try $0.execute(sql: "INSERT INTO scratch (n, body) VALUES (?, ?)", arguments: [n, blob]) }
        }
        let stats = store.checkpoints
        #expect(stats.inline >= 1 && stats.checkpoints == 0, "\(stats)")
        #expect(walBytes(dir) < 80 << 20, "\(walBytes(dir)) bytes of WAL")
    }
}
