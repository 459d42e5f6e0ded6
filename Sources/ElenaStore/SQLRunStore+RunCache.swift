package import ElenaCore
import Foundation

/// The run cache (stage runs by key) and the stat cache (file digests by path and stamp).
extension SQLRunStore: RunCache, StatCache {
    static func record(_ row: SQLRow) -> StageRecord? {
        guard let key = row.digest("cache_key"),
            let stage = row.string("stage").map(StageName.init(rawValue:))
        else { return nil }
        var stamp: FileStamp?
        if let size = row.int64("artifact_size"), let mtime = row.int64("artifact_mtime_ns"), let inode = row.int64("artifact_inode") {
            stamp = FileStamp(size: size, mtimeNanoseconds: mtime, inode: inode)
        }
        return StageRecord(
            key: CacheKey(trusted: key), stage: stage, itemID: row.digest("item_id"),
            drop: row.string("drop_name") ?? "", status: row.string("status") == "failed" ? .failed : .succeeded,
            outputDigest: row.digest("output_digest"),
            artifactPath: row.string("artifact_path"), artifactStamp: stamp,
            output: JSONText(text: row.string("output") ?? "null"), error: row.string("error"),
            startedAt: row.date("started_at") ?? Date(timeIntervalSince1970: 0),
            durationMilliseconds: row.int("duration_ms") ?? 0)
    }

    /// Every column of a run (`record`).
    private static let recordColumns = """
        cache_key, stage, item_id, drop_name, status, output_digest, artifact_path, artifact_size, artifact_mtime_ns,
        artifact_inode, output, error, started_at, duration_ms
        """

    /// Only what a cache hit needs: this runs on every start and reads one row per finished step of the drop.
    private static let hitColumns =
        "cache_key, output_digest, artifact_path, artifact_size, artifact_mtime_ns, artifact_inode, output"

    /// A row of `hitColumns`.
    static func hit(_ row: SQLRow) -> (CacheKey, CachedStep)? {
        guard let key = row.digest("cache_key") else { return nil }
        var stamp: FileStamp?
        if let size = row.int64("artifact_size"), let mtime = row.int64("artifact_mtime_ns"), let inode = row.int64("artifact_inode") {
            stamp = FileStamp(size: size, mtimeNanoseconds: mtime, inode: inode)
        }
        return (
            CacheKey(trusted: key),
            CachedStep(
                outputDigest: row.digest("output_digest"), artifactPath: row.string("artifact_path"),
                artifactStamp: stamp, output: JSONText(text: row.string("output") ?? "null"))
        )
    }

    package func cacheIndex(items: [Digest]) async throws -> [CacheKey: CachedStep] {
        guard !items.isEmpty else { return [:] }
        // The part's compact copy, if the stage runs are as they were when it was made (migration 15), with the
        // version they are at: one statement, so both are read at the same moment.
        let part = RunCachePart.key(items: items)
        let found = try await database.query(
            SQLStatement(
                """
                SELECT v.value AS runs_version, p.steps AS steps FROM ledger_versions v
                LEFT JOIN run_cache_parts p ON p.part = ? AND p.runs_version = v.value WHERE v.name = 'stage_runs'
                """, [.digest(part)]))
        if let bytes = found.first?.bytes("steps"), let steps = RunCachePart.decode(bytes) { return steps }
        // About two finished steps per item: a drop that holds most of the library reads the table in one pass.
        let hits = try await rows(
            of: items, table: "stage_runs", columns: Self.hitColumns, idColumn: "item_id", condition: "status = 'succeeded'",
            limit: items.count * 4, map: Self.hit)
        var index: [CacheKey: CachedStep] = [:]
        index.reserveCapacity(hits.count)
        for (key, step) in hits { index[key] = step }
        if !isReadOnly, let version = found.first?.int64("runs_version") {
            await keep(index, part: part, readAt: version)
        }
        return index
    }

    /// Keeps a part's steps, read from its rows after the stage runs were at `version`, as its compact copy: only if
    /// they still are (no run recorded between then and now), checked as it is written, and in place of every copy
    /// made at another version (none of which can be read again: the version only grows). A copy that cannot be
    /// written is no loss (the rows are read again next time).
    private func keep(_ steps: [CacheKey: CachedStep], part: Digest, readAt version: Int64) async {
        let current = "(SELECT value FROM ledger_versions WHERE name = 'stage_runs')"
        try? await write([
            SQLStatement("DELETE FROM run_cache_parts WHERE runs_version <> \(current)"),
            SQLStatement(
                """
                INSERT INTO run_cache_parts (part, runs_version, steps) SELECT ?, ?, ? WHERE \(current) = ?
                ON CONFLICT (part) DO UPDATE SET runs_version = excluded.runs_version, steps = excluded.steps
                """, [.digest(part), .int(version), .bytes(RunCachePart.encode(steps)), .int(version)]),
        ])
        // The copy's pages would fill SQLite's writer cache (32 MB for a 100,000-item drop's copies), which the
        // run does not read them back through: 287-292 MB at the peak of such a run instead of 253-260 MB.
        await (database as? SQLiteDatabase)?.releaseWriterMemory()
    }

    package func cacheRecords(keys: [CacheKey]) async throws -> [CacheKey: StageRecord] {
        let records = try await rows(
            of: keys.map(\.digest), table: "stage_runs", columns: Self.recordColumns, idColumn: "cache_key",
            condition: "status = 'succeeded'", limit: keys.count, map: Self.record)
        return Dictionary(records.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    package func failures(drop: String) async throws -> [StageRecord] {
        let rows = try await database.query(
            """
            SELECT \(Self.recordColumns) FROM stage_runs WHERE status = 'failed' AND drop_name = ? ORDER BY started_at
            """, [.text(drop)])
        return rows.compactMap(Self.record)
    }

    package func runs(itemID: Digest) async throws -> [StageRecord] {
        let rows = try await database.query(
            """
            SELECT \(Self.recordColumns) FROM stage_runs WHERE item_id = ? ORDER BY started_at
            """, [.text(itemID.hex)])
        return rows.compactMap(Self.record)
    }

    package func record(_ runs: [StageRecord]) async throws {
        // Many runs to a statement: against a server 20 ms away, each statement is a round trip (a first run records
        // three steps per item). One run per key, the last given.
        var statements = Self.chunks(Self.lastOfEach(runs, by: \.key), size: Self.stageRunsPerStatement).map { batch in
            SQLStatement(
                """
                INSERT INTO stage_runs (cache_key, stage, item_id, drop_name, status, output_digest, artifact_path,
                    artifact_size, artifact_mtime_ns, artifact_inode, output, error, started_at, duration_ms)
                VALUES \(Self.valueRows(batch.count, width: 14))
                ON CONFLICT (cache_key) DO UPDATE SET status = excluded.status,
                    output_digest = excluded.output_digest, artifact_path = excluded.artifact_path,
                    artifact_size = excluded.artifact_size, artifact_mtime_ns = excluded.artifact_mtime_ns,
                    artifact_inode = excluded.artifact_inode, output = excluded.output, error = excluded.error,
                    started_at = excluded.started_at, duration_ms = excluded.duration_ms
                """,
                batch.flatMap { run -> [SQLValue] in
                    [
                        .text(run.key.digest.hex), .text(run.stage.rawValue), .text(run.itemID?.hex), .text(run.drop),
                        .text(run.status.rawValue), .text(run.outputDigest?.hex), .text(run.artifactPath),
                        run.artifactStamp.map { .int($0.size) } ?? .null,
                        run.artifactStamp.map { .int($0.mtimeNanoseconds) } ?? .null,
                        run.artifactStamp.map { .int($0.inode) } ?? .null,
                        .json(run.output.text), .text(run.error), .date(run.startedAt),
                        .int(Int64(run.durationMilliseconds)),
                    ]
                })
        }
        // Each failure marks its item, in the order the runs were given (the last one's message stays).
        for run in runs where run.status == .failed {
            guard let item = run.itemID else { continue }
            statements.append(
                SQLStatement(
                    "UPDATE items SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                    [.text("\(run.stage.rawValue): \(run.error ?? "failed")"), .date(run.startedAt), .text(item.hex)]))
        }
        try await write(statements)
    }

    /// Stage runs per statement: 14 values each, 7,000 in all, far under both dialects' limits on bound values.
    package static let stageRunsPerStatement = 500

    /// The stat cache's entries under `prefix`. The paths are also bounded as a range of an index in byte order, so
    /// a drop reads its own folder's entries, not the library's 100,000: on SQLite the primary key's (text compares
    /// by its bytes), on PostgreSQL migration 14's `file_stats_path_bytes` (under "C": the database's collation need
    /// not order paths byte by byte).
    package static func statEntriesQuery(prefix: String, dialect: SQLDialect) -> SQLStatement {
        var sql = "SELECT path, size, mtime_ns, inode, digest FROM file_stats WHERE substr(path, 1, CAST(? AS INTEGER)) = ?"
        var binds: [SQLValue] = [.int(Int64(prefix.count)), .text(prefix)]
        // Past every path that starts with the prefix: its last byte one higher (an ASCII byte, as the `/` that ends
        // a folder's prefix).
        var bytes = Array(prefix.utf8)
        if let last = bytes.last, last < 0x7F {
            bytes[bytes.count - 1] = last + 1
            let path = dialect == .sqlite ? "path" : "path COLLATE \"C\""
            sql += " AND \(path) >= ? AND \(path) < ?"
            binds += [.text(prefix), .text(String(decoding: bytes, as: UTF8.self))]
        }
        return SQLStatement(sql, binds)
    }

    package func statEntries(prefix: String) async throws -> [String: StatEntry] {
        // Mapped as the rows stream (a folder of 100,000 files has as many rows).
        let found = try await database.query(Self.statEntriesQuery(prefix: prefix, dialect: database.dialect)) { row -> StatEntry? in
            guard let path = row.string("path"), let size = row.int64("size"), let mtime = row.int64("mtime_ns"),
                let inode = row.int64("inode"), let digest = row.digest("digest")
            else { return nil }
            return StatEntry(path: path, stamp: FileStamp(size: size, mtimeNanoseconds: mtime, inode: inode), digest: digest)
        }
        var entries: [String: StatEntry] = [:]
        entries.reserveCapacity(found.count)
        for entry in found { entries[entry.path] = entry }
        return entries
    }

    /// Saves the entries in one transaction, many to a statement: the first run of a 100,000-file drop saves as many
    /// entries, and one statement each made 100,000 round trips to PostgreSQL (33-36 s here, now 200).
    package func saveStatEntries(_ entries: [StatEntry]) async throws {
        let now = Date()
        // One entry per path, the last given.
        try await write(
            Self.chunks(Self.lastOfEach(entries, by: \.path), size: Self.statEntriesPerStatement).map { batch in
                SQLStatement(
                    """
                    INSERT INTO file_stats (path, size, mtime_ns, inode, digest, checked_at)
                    VALUES \(Self.valueRows(batch.count, width: 6))
                    ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                        inode = excluded.inode, digest = excluded.digest, checked_at = excluded.checked_at
                    """,
                    batch.flatMap { entry -> [SQLValue] in
                        [
                            .text(entry.path), .int(entry.stamp.size), .int(entry.stamp.mtimeNanoseconds),
                            .int(entry.stamp.inode), .text(entry.digest.hex), .date(now),
                        ]
                    })
            })
    }

    /// Stat entries per statement: six values each, 3,000 in all, far under both dialects' limits on bound values
    /// (SQLite 32,766, PostgreSQL 65,535).
    package static let statEntriesPerStatement = 500
}
