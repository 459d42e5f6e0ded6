import Foundation
internal import GRDB

/// SQLite through GRDB: one file, WAL mode, so reads never wait for the writer.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let writer: any DatabaseWriter
    /// A temporary folder to delete on close (snapshots).
    private let cleanup: String?

    private init(writer: any DatabaseWriter, cleanup: String?) {
        self.writer = writer
        self.cleanup = cleanup
    }

    private static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
        }
        return configuration
    }

    /// Opens (creating if needed) a database file in WAL mode.
    /// - Throws: `StoreError` naming the file.
    public static func open(path: String) throws -> SQLiteDatabase {
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            return SQLiteDatabase(writer: try DatabasePool(path: path, configuration: configuration()), cleanup: nil)
        } catch {
            throw StoreError("cannot open the SQLite database \(path): \(Self.describe(error))")
        }
    }

    /// Opens a private copy of a database file, so that nothing the caller does can change the original or
    /// create files beside it (dry runs). A missing file gives an empty database.
    public static func openSnapshot(of path: String) throws -> SQLiteDatabase {
        let folder = NSTemporaryDirectory() + "elena-snapshot-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let copy = folder + "/snapshot.db"
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.copyItem(atPath: path, toPath: copy)
                if FileManager.default.fileExists(atPath: path + "-wal") {
                    try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
                }
            }
            return SQLiteDatabase(writer: try DatabaseQueue(path: copy, configuration: configuration()), cleanup: folder)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw StoreError("cannot read the SQLite database \(path): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "SQLite error \(error.resultCode.rawValue)" }
        return error.localizedDescription
    }

    private static func arguments(_ binds: [SQLValue]) -> StatementArguments {
        StatementArguments(
            binds.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: return nil
                case .int(let number): return number
                case .double(let number): return number
                case .text(let text), .json(let text): return text
                case .date(let date): return ISO8601.format(date)
                case .bool(let flag): return flag ? Int64(1) : Int64(0)
                }
            })
    }

    private static func convert(_ row: Row, columns: [String: Int]) -> SQLRow {
        SQLRow(
            columns: columns,
            values: row.databaseValues.map { value in
                switch value.storage {
                case .null: return .null
                case .int64(let number): return .int(number)
                case .double(let number): return .double(number)
                case .string(let text): return .text(text)
                case .blob(let data): return .text(String(decoding: data, as: UTF8.self))
                }
            })
    }

    private static func fetch(_ db: Database, _ statement: SQLStatement) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        var columns: [String: Int]?
        let cursor = try Row.fetchCursor(db, sql: statement.sql, arguments: Self.arguments(statement.binds))
        while let row = try cursor.next() {
            if columns == nil {
                var names: [String: Int] = [:]
                for (index, name) in row.columnNames.enumerated() { names[name] = index }
                columns = names
            }
            rows.append(Self.convert(row, columns: columns ?? [:]))
        }
        return rows
    }

    public func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        do {
            return try await writer.read { db in try Self.fetch(db, statement) }
        } catch {
            throw StoreError("SQLite query failed: \(Self.describe(error))")
        }
    }

    public func writeQuery(_ statement: SQLStatement) async throws -> [SQLRow] {
        do {
            return try await writer.write { db in try Self.fetch(db, statement) }
        } catch {
            throw StoreError("SQLite write failed: \(Self.describe(error))")
        }
    }

    public func transaction(_ statements: [SQLStatement]) async throws {
        guard !statements.isEmpty else { return }
        do {
            try await writer.write { db in
                for statement in statements {
                    try db.execute(sql: statement.sql, arguments: Self.arguments(statement.binds))
                }
            }
        } catch {
            throw StoreError("SQLite write failed: \(Self.describe(error))")
        }
    }

    public func runScript(_ script: String, then statements: [SQLStatement]) async throws {
        do {
            try await writer.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try db.execute(sql: script)
                    for statement in statements {
                        try db.execute(sql: statement.sql, arguments: Self.arguments(statement.binds))
                    }
                    return .commit
                }
            }
        } catch {
            throw StoreError("SQLite migration failed: \(Self.describe(error))")
        }
    }

    public func close() async {
        // Fold the write-ahead log back into the database file, so the file alone holds everything.
        if cleanup == nil { _ = try? await writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") } }
        try? writer.close()
        if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) }
    }
}
