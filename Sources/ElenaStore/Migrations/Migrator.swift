package import Foundation

/// One numbered schema change.
package struct Migration: Sendable {
    /// Increasing version number (the file's numeric prefix).
    package var version: Int
    /// The file name without `.sql`.
    package var name: String
    /// The SQL.
    package var sql: String
}

/// Applies the embedded migrations that a database lacks, each in its own transaction together with its row in
/// `schema_migrations`, and refuses a database written by a newer elena-run.
package enum Migrator {
    /// The migrations for a dialect.
    package static func migrations(for dialect: SQLDialect) -> [Migration] {
        dialect == .sqlite ? EmbeddedMigrations.sqlite : EmbeddedMigrations.postgres
    }

    /// The newest schema version this binary knows.
    package static var latestVersion: Int { EmbeddedMigrations.sqlite.map(\.version).max() ?? 0 }

    static let ledger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """

    /// The versions already applied.
    package static func appliedVersions(_ database: any SQLDatabase) async throws -> Set<Int> {
        let rows = try await database.query("SELECT version FROM schema_migrations")
        return Set(rows.compactMap { $0.int("version") })
    }

    /// Whether the ledger table exists (without creating it).
    static func hasLedger(_ database: any SQLDatabase) async throws -> Bool {
        let sql =
            database.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            : "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
        return try await !database.query(sql).isEmpty
    }

    /// The schema version a database is at, without changing it (0 for an empty database).
    package static func currentVersion(_ database: any SQLDatabase) async throws -> Int {
        guard try await hasLedger(database) else { return 0 }
        return try await appliedVersions(database).max() ?? 0
    }

    /// Brings the database up to date.
    /// - Returns: the migrations applied now (empty when it was already current).
    /// - Throws: `StoreError` when the database is newer than this binary, or a migration fails.
    @discardableResult
    package static func migrate(_ database: any SQLDatabase, now: Date = Date()) async throws -> [Migration] {
        let current = try await currentVersion(database)
        if current > latestVersion {
            throw StoreError(
                "the database is at schema version \(current), newer than this elena-run understands (\(latestVersion)); "
                    + "upgrade elena-run before using this database")
        }
        try await database.transaction([SQLStatement(ledger)])
        var applied: [Migration] = []
        for migration in migrations(for: database.dialect) where migration.version > current {
            // Another runner may have applied it meanwhile (PostgreSQL migrations hold an advisory lock).
            if try await appliedVersions(database).contains(migration.version) { continue }
            do {
                try await database.runScript(
                    migration.sql,
                    then: [
                        SQLStatement(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING",
                            [.int(Int64(migration.version)), .text(migration.name), .text(ISO8601.format(now))])
                    ])
            } catch let error as StoreError {
                if try await appliedVersions(database).contains(migration.version) { continue }
                throw StoreError("migration \(migration.name) failed: \(error.description)")
            }
            applied.append(migration)
        }
        return applied
    }
}
