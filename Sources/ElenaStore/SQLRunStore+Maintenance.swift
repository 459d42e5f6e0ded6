package import ElenaCore
import Foundation

/// What the ledger is made of, and the removal of what no longer answers anything (`elena-run gc`).
extension SQLRunStore {
    /// Bytes per table (indexes counted with their table) and the number of items.
    package struct Size: Sendable {
        package var tables: [(name: String, bytes: Int64)]
        package var items: Int
        package var total: Int64 { tables.reduce(0) { $0 + $1.bytes } }
    }

    /// The ledger's size by table, from the database's own figures (SQLite's `dbstat`, PostgreSQL's relation sizes).
    package func size() async throws -> Size {
        let items = try await database.query("SELECT COUNT(*) AS n FROM items").first?.int("n") ?? 0
        let rows: [SQLRow]
        switch database.dialect {
        case .sqlite:
            // An index is counted with its table (`tbl_name`); SQLite's own tables under `sqlite`.
            rows = try await database.query(
                """
                SELECT COALESCE(m.tbl_name, 'sqlite') AS name, SUM(d.pgsize) AS bytes
                FROM dbstat d LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC
                """)
        case .postgres:
            rows = try await database.query(
                """
                SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC
                """)
        }
        return Size(tables: rows.compactMap { row in row.string("name").map { ($0, row.int64("bytes") ?? 0) } }, items: items)
    }

    /// Every finished step that names an output file, by key: the file, library-relative or absolute.
    package func runArtifacts() async throws -> [(key: CacheKey, path: String)] {
        try await database.query(
            SQLStatement("SELECT cache_key, artifact_path FROM stage_runs WHERE artifact_path IS NOT NULL")
        ) { row in
            guard let key = row.digest("cache_key"), let path = row.string("artifact_path") else {
                return nil
            }
            return (CacheKey(trusted: key), path)
        }
    }

    /// Removes the records of finished steps; returns how many there were.
    package func removeRuns(_ keys: [CacheKey]) async throws -> Int {
        var removed = 0
        for chunk in Self.chunks(keys.map(\.digest.hex)) {
            removed += try await writeQuery(
                SQLStatement(
                    "DELETE FROM stage_runs WHERE cache_key IN (\(Self.placeholders(chunk.count))) RETURNING cache_key",
                    chunk.map { SQLValue.text($0) })
            ).count
        }
        return removed
    }

    /// How many compact copies of parts the run cache holds (migration 15), and how many of them were made before
    /// its last change: those can never be read again.
    package func runCacheCopies() async throws -> (all: Int, outdated: Int) {
        let row = try await database.query(
            """
            SELECT COUNT(*) AS n, SUM(CASE WHEN p.runs_version <> v.value THEN 1 ELSE 0 END) AS outdated
            FROM run_cache_parts p JOIN ledger_versions v ON v.name = 'stage_runs'
            """
        ).first
        return (row?.int("n") ?? 0, row?.int("outdated") ?? 0)
    }

    /// Removes the run cache's copies made before its last change; returns how many there were.
    package func removeOutdatedRunCacheCopies() async throws -> Int {
        try await writeQuery(
            SQLStatement(
                """
                DELETE FROM run_cache_parts WHERE runs_version <> (SELECT value FROM ledger_versions WHERE name = 'stage_runs')
                RETURNING part
                """)
        ).count
    }

    /// Every path the stat cache remembers.
    package func statPaths() async throws -> [String] {
        try await database.query(SQLStatement("SELECT path FROM file_stats")) { $0.string("path") }
    }

    /// Forgets the stat cache's entries for `paths`.
    package func removeStatEntries(_ paths: [String]) async throws {
        for chunk in Self.chunks(paths) {
            try await write([
                SQLStatement("DELETE FROM file_stats WHERE path IN (\(Self.placeholders(chunk.count)))", chunk.map { SQLValue.text($0) })
            ])
        }
    }
}
