import ElenaCore
import Foundation

/// The SQL flavour of a connection.
package enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// A SQL statement with `?` placeholders and its bound values.
package struct SQLStatement: Sendable {
    /// The SQL text; `?` marks each bound value.
    package var sql: String
    /// Values for the placeholders, in order.
    package var binds: [SQLValue]

    /// Creates a statement.
    package init(_ sql: String, _ binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }
}

/// The small database interface the store is written against, implemented for SQLite (GRDB) and PostgreSQL
/// (PostgresNIO). Statements use `?` placeholders; the PostgreSQL side numbers them.
package protocol SQLDatabase: Sendable {
    /// Which flavour.
    var dialect: SQLDialect { get }
    /// Runs a query and returns every row.
    func query(_ statement: SQLStatement) async throws -> [SQLRow]
    /// Runs a query and returns what `map` makes of each row (nil leaves it out), never holding every row at once
    /// where the database can stream them (a library's run cache is hundreds of thousands of rows).
    func query<T: Sendable>(_ statement: SQLStatement, map: @escaping @Sendable (SQLRow) -> T?) async throws -> [T]
    /// Runs a writing statement that returns rows (`INSERT … RETURNING`) in its own transaction.
    func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow]
    /// Runs statements in one transaction: all or nothing.
    func transaction(_ statements: [SQLStatement]) async throws
    /// Runs a script of several statements without parameters (migrations), in one transaction, after
    /// `preamble` statements that guard against concurrent migrators.
    func runScript(_ script: String, then statements: [SQLStatement]) async throws
    /// Closes the connection.
    func close() async
}

extension SQLDatabase {
    package func query<T: Sendable>(_ statement: SQLStatement, map: @escaping @Sendable (SQLRow) -> T?) async throws -> [T] {
        try await query(statement).compactMap(map)
    }

    /// Runs one statement outside any explicit transaction.
    package func execute(_ sql: String, _ binds: [SQLValue] = []) async throws {
        try await transaction([SQLStatement(sql, binds)])
    }

    /// Runs one query.
    package func query(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await query(SQLStatement(sql, binds))
    }
}

/// A database failure, described without any bound values or passwords.
package struct StoreError: Error, Sendable, CustomStringConvertible {
    /// One sentence: what was being done and why it failed.
    package var description: String

    /// Creates an error.
    package init(_ description: String) { self.description = description }
}

/// The ledger database cannot be used for the rest of the run: it went away and did not come back within the
/// window, it stayed locked by another process, or its disk is full or read-only. It stops the run (nothing is
/// lost: every finished step is in the ledger or found again from its output), with one sentence.
package struct LedgerUnavailable: RunStopping, Sendable, CustomStringConvertible {
    /// The sentence.
    package var description: String
    package var stopReason: String? { description }

    /// Creates one from its sentence.
    package init(_ description: String) { self.description = description }

    /// A server that went away for longer than the window.
    static func lost(_ database: String, cause: String, waited: Duration) -> LedgerUnavailable {
        LedgerUnavailable(
            "lost the ledger database at \(database) (\(cause)) and it did not come back within \(seconds(waited)); "
                + "nothing was lost; run again when it is back")
    }

    /// How long a run waits for its ledger database: gone (PostgreSQL) or locked by another process (SQLite).
    /// 60 seconds, or `ELENA_DB_WAIT` seconds.
    package static var window: Duration {
        let seconds = ProcessInfo.processInfo.environment["ELENA_DB_WAIT"].flatMap(Double.init) ?? 60
        return .milliseconds(Int(max(0, seconds) * 1000))
    }

    /// Where the one-line notices about the ledger go (lost, waiting, back): standard error.
    package static let notice: @Sendable (String) -> Void = {
        FileHandle.standardError.write(Data(("ledger database: " + $0 + "\n").utf8))
    }

    /// "2.5 s".
    package static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value < 10 ? String(format: "%.1f s", value) : "\(Int(value.rounded())) s"
    }
}
