import Foundation
import GRDB
import GRDBSQLite

/// A prepared statement of the dispatch hot path, bound and stepped through SQLite's C API.
///
/// GRDB prepares it (and finalizes it with its connection); binding by position and reading columns by index skips
/// GRDB's per-call argument boxing, SQL-keyed statement cache and `Row` copies, which cost more than SQLite's own
/// work for these one-row statements. Only for the writer connection, on the thread that owns the store.
final class HotStatement {
    private let statement: Statement
    private let sql: String
    private var handle: OpaquePointer { statement.sqliteStatement }
    /// SQLite copies bound text (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ db: Database, _ sql: String) throws {
        statement = try db.makeStatement(sql: sql)
        self.sql = sql
    }

    /// Binds `values` to the parameters in order (after resetting the statement).
    @discardableResult
    func bind(_ values: HotValue...) -> HotStatement {
        sqlite3_reset(handle)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            switch v {
            case .text(let s): _ = s.withCString { sqlite3_bind_text(handle, index, $0, -1, Self.transient) }
            case .int(let n): sqlite3_bind_int64(handle, index, sqlite3_int64(n))
            case .real(let x): sqlite3_bind_double(handle, index, x)
            case .null: sqlite3_bind_null(handle, index)
            }
        }
        return self
    }

    /// Steps once: `true` when a row is available to read, `false` when the statement is done.
    /// - Throws: `DatabaseError` with SQLite's message and this statement's SQL.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let code = sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(handle))),
                                sql: sql)
        }
    }

    /// Runs the statement to completion.
    func run() throws { while try step() {} }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func real(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func text(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: p)
    }
}

/// A value bound to a ``HotStatement`` parameter.
enum HotValue {
    case text(String), int(Int), real(Double), null
}

/// The hot-path statements of one writer connection, prepared on first use.
final class HotStatements {
    let connection: ObjectIdentifier
    private let db: Database
    private var prepared: [Query: HotStatement] = [:]

    init(_ db: Database) {
        self.db = db
        connection = ObjectIdentifier(db)
    }

    enum Query: Int {
        case lease, complete, recordAttempt, recordArtifact, dependents, releaseDependent, outputs
    }

    subscript(_ q: Query) -> HotStatement {
        get throws {
            if let s = prepared[q] { return s }
            let s = try HotStatement(db, Self.sql[q]!)
            prepared[q] = s
            return s
        }
    }

    private static let sql: [Query: String] = [
        // Only a ready task is leased; the lease is the row's attempt number, worker and start time.
        .lease: """
            UPDATE tasks SET state = 'running', attempts = attempts + 1, worker = ?, started_at = ?, step = 0
            WHERE job_id = ? AND key = ? AND state = 'ready' RETURNING attempts
            """,
        // The lease check, the state change and the outputs are one statement; `worker` stays as who did it.
        .complete: """
            UPDATE tasks SET state = 'done', chunk = ?, audio = ?, tail = ?, anchors = ?
            WHERE job_id = ? AND key = ? AND state = 'running' AND attempts = ? RETURNING worker, started_at
            """,
        .recordAttempt: """
            INSERT INTO attempts (job_id, key, number, worker, started_at, ended_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
        .recordArtifact: "INSERT OR IGNORE INTO artifacts (hash, size, created_at) VALUES (?, ?, ?)",
        // A dependent of a finished task; it becomes ready when this was its last dependency. (One statement per
        // dependent: `key IN (SELECT …)` would build a temporary b-tree each time.) Only a waiting dependent counts:
        // a task run again for a damaged output (`rerunDamaged`) has dependents that are already done.
        .dependents: "SELECT key FROM task_deps WHERE job_id = ? AND dep = ?",
        .releaseDependent: """
            UPDATE tasks SET deps_left = deps_left - 1,
                state = CASE WHEN deps_left = 1 THEN 'ready' ELSE state END,
                ready_at = CASE WHEN deps_left = 1 THEN ? ELSE ready_at END
            WHERE job_id = ? AND key = ? AND state = 'waiting' RETURNING remaining, state = 'ready'
            """,
        .outputs: "SELECT chunk, audio, tail, anchors FROM tasks WHERE job_id = ? AND key = ?",
    ]
}
