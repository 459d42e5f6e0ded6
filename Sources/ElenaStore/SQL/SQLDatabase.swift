/// The SQL flavour of a connection.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// A SQL statement with `?` placeholders and its bound values.
public struct SQLStatement: Sendable {
    /// The SQL text; `?` marks each bound value.
    public var sql: String
    /// Values for the placeholders, in order.
    public var binds: [SQLValue]

    /// Creates a statement.
    public init(_ sql: String, _ binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }
}

/// The small database interface the store is written against, implemented for SQLite (GRDB) and PostgreSQL
/// (PostgresNIO). Statements use `?` placeholders; the PostgreSQL side numbers them.
public protocol SQLDatabase: Sendable {
    /// Which flavour.
    var dialect: SQLDialect { get }
    /// Runs a query and returns every row.
    func query(_ statement: SQLStatement) async throws -> [SQLRow]
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
    /// Runs one statement outside any explicit transaction.
    public func execute(_ sql: String, _ binds: [SQLValue] = []) async throws {
        try await transaction([SQLStatement(sql, binds)])
    }

    /// Runs one query.
    public func query(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await query(SQLStatement(sql, binds))
    }
}

/// A database failure, described without any bound values or passwords.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// One sentence: what was being done and why it failed.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
