import Foundation
import GRDB
import GRDBSQLite

/// Copies the write-ahead log back into the database file on a thread of its own, so that no commit of the
/// coordinator's loop pays for it.
///
/// SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, on the committing thread: on the
/// coordinator, the loop's. A 32 MiB checkpoint held that iteration's commit for 33–66 ms, which was the p99 of every
/// dashboard POST. Instead, a WAL hook on the writer connection (which replaces the automatic checkpoint: SQLite's
/// `wal_autocheckpoint` is itself such a hook) wakes this thread once the log holds ``threshold`` frames, and the
/// thread runs a PASSIVE checkpoint on a connection of its own: it takes no lock that a writer or reader waits for,
/// copies what no reader still needs, and leaves the rest for the next one. A crash at any point is SQLite's usual
/// WAL recovery: the log is the truth until it has been copied.
final class WALCheckpointer: @unchecked Sendable {
    /// Frames (pages) in the log that wake the thread: 8 MiB at 4 KiB pages.
    static let threshold: Int32 = 2_048
    /// Frames past which the writer checkpoints by itself after its commit, as SQLite would (64 MiB): a passive
    /// checkpoint that runs beside commits may never find every frame copied, and the log only starts over once one
    /// has. Rare by design; counted.
    static let ceiling: Int32 = 16_384

    /// What the hook shares with the thread; retained for as long as the writer connection may call the hook.
    final class Signal: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        let lock = NSLock()
        var pending = false
        var inline = 0
        /// ``WALCheckpointer/threshold`` and ``WALCheckpointer/ceiling``; tests lower them before the first write.
        var threshold = WALCheckpointer.threshold
        var ceiling = WALCheckpointer.ceiling
        /// Called by the writer after each commit with the log's frame count; cheap, and never blocks.
        func committed(frames: Int32) {
            guard frames >= threshold else { return }
            let first = lock.withLock {
                defer { pending = true }
                return !pending
            }
            if first { wake.signal() }
        }
    }

    private let connection: DatabaseQueue
    let signal = Signal()
    private let lock = NSLock()
    private var stopping = false
    private var started = false
    private let finished = DispatchSemaphore(value: 0)
    private var counts = (checkpoints: 0, failures: 0, log: 0, copied: 0, total: 0)

    /// Opens a connection of its own on the store's database file at `path` (in WAL mode already).
    init(path: String) throws {
        var config = Configuration()
        config.busyMode = .immediateError  // a passive checkpoint never waits; anything else should not either
        connection = try DatabaseQueue(path: path, configuration: config)
    }

    /// Installs the hook on the writer connection `db`: from then on its commits never checkpoint by themselves.
    func install(on db: Database) {
        let context = Unmanaged.passRetained(signal).toOpaque()
        _ = sqlite3_wal_hook(db.sqliteConnection, { context, connection, name, frames in
            guard let context else { return SQLITE_OK }
            let signal = Unmanaged<Signal>.fromOpaque(context).takeUnretainedValue()
            signal.committed(frames: frames)
            guard frames >= signal.ceiling else { return SQLITE_OK }
            signal.lock.withLock { signal.inline += 1 }
            // As SQLite's own automatic checkpoint does from this hook (sqlite3WalDefaultHook), whose result it
            // ignores: the commit has happened, and an error returned here would make it report a failure; SQLITE_BUSY
            // (the thread checkpointing at the same moment) is the common one, and the thread copies the frames.
            _ = sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return SQLITE_OK
        }, context)
    }

    /// Starts the thread. It also checkpoints every `idleSeconds` while the log is below the threshold, so that what a
    /// quiet farm wrote reaches the database file too.
    func start(idleSeconds: Double = 5) {
        lock.withLock { started = true }
        let thread = Thread { [self] in
            Thread.current.name = "reelfarm-wal"
            while !lock.withLock({ stopping }) {
                _ = signal.wake.wait(timeout: .now() + idleSeconds)
                if lock.withLock({ stopping }) { break }
                signal.lock.withLock { signal.pending = false }
                // The log starts over only once a checkpoint found every frame copied: what commits added while one
                // ran is copied by the next, at once, and these get shorter (a few iterations' worth).
                for _ in 0..<8 where !checkpoint() {}
                // At most 20 a second, however fast the log grows: each copies what came since the last.
                Thread.sleep(forTimeInterval: 0.05)
            }
            finished.signal()
        }
        thread.start()
    }

    /// One passive checkpoint now; its failure (a reader holding the file, the disk) is counted, and the next one
    /// tries again. Whether it copied every frame of the log (or failed: no use retrying at once).
    @discardableResult
    func checkpoint() -> Bool {
        do {
            let r = try connection.inDatabase { try $0.checkpoint(.passive) }
            lock.withLock {
                counts.checkpoints += 1
                // Frames copied since the last checkpoint: the log's counts start over when the log does.
                let sameLog = r.walFrameCount >= counts.log && r.checkpointedFrameCount >= counts.copied
                counts.total += max(0, r.checkpointedFrameCount - (sameLog ? counts.copied : 0))
                counts.log = r.walFrameCount
                counts.copied = r.checkpointedFrameCount
            }
            return r.checkpointedFrameCount >= r.walFrameCount
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            return true  // the writer is checkpointing past the ceiling: it does the work
        } catch {
            lock.withLock { counts.failures += 1 }
            return true
        }
    }

    /// What the checkpoints did so far (see ``CheckpointStatistics``).
    var statistics: CheckpointStatistics {
        let c = lock.withLock { counts }
        return CheckpointStatistics(checkpoints: c.checkpoints, failures: c.failures, logFrames: c.log, copiedFrames: c.total,
                                    inline: signal.lock.withLock { signal.inline })
    }

    func stop() {
        let running = lock.withLock {
            defer { stopping = true }
            return started && !stopping
        }
        guard running else { return }
        signal.wake.signal()
        finished.wait()
    }
}

/// What a store's checkpoints did: those the thread ran and those that failed; the log's frames at the last one, and
/// the frames they copied back in all (about: a log that started over between two is counted from its start);
/// checkpoints the writer ran itself past the ceiling.
public struct CheckpointStatistics: Sendable, Equatable {
    public var checkpoints: Int
    public var failures: Int
    public var logFrames: Int
    public var copiedFrames: Int
    public var inline: Int
    public init(checkpoints: Int = 0, failures: Int = 0, logFrames: Int = 0, copiedFrames: Int = 0, inline: Int = 0) {
        self.checkpoints = checkpoints
        self.failures = failures
        self.logFrames = logFrames
        self.copiedFrames = copiedFrames
        self.inline = inline
    }
}
