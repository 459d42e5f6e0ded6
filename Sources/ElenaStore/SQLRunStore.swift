public import ElenaCore
public import Foundation

/// The ledger on any `SQLDatabase`: SQLite by default, PostgreSQL for shared use. Every query is written once,
/// in the SQL both understand.
public final class SQLRunStore: RunStore {
    /// The connection.
    public let database: any SQLDatabase
    public let displayName: String
    public let isReadOnly: Bool

    /// Wraps an open database. Call `Migrator.migrate` first (or open with `open`).
    public init(database: any SQLDatabase, displayName: String, readOnly: Bool) {
        self.database = database
        self.displayName = displayName
        self.isReadOnly = readOnly
    }

    /// Opens the database a URL names and brings its schema up to date.
    /// - Parameters:
    ///   - url: SQLite file or PostgreSQL server.
    ///   - readOnly: for dry runs: a SQLite file is read through a private copy (nothing beside it changes,
    ///     and an older schema is migrated in the copy); a PostgreSQL schema is checked but never changed.
    public static func open(_ url: DatabaseURL, readOnly: Bool) async throws -> SQLRunStore {
        switch url.kind {
        case .sqlite(let path):
            let database = readOnly ? try SQLiteDatabase.openSnapshot(of: path) : try SQLiteDatabase.open(path: path)
            do {
                try await Migrator.migrate(database)
            } catch {
                await database.close()
                throw error
            }
            return SQLRunStore(database: database, displayName: url.description, readOnly: readOnly)
        case .postgres:
            let database = try await PostgresDatabase.connect(url)
            do {
                if readOnly {
                    let version = try await Migrator.currentVersion(database)
                    if version > Migrator.latestVersion {
                        throw StoreError(
                            "the database is at schema version \(version), newer than this elena-run understands "
                                + "(\(Migrator.latestVersion)); upgrade elena-run before using this database")
                    }
                    if version < Migrator.latestVersion {
                        throw StoreError(
                            "the database at \(url) has not been set up for this version of elena-run; "
                                + "run once without --dry-run (or `elena-run doctor`) to create its tables")
                    }
                } else {
                    try await Migrator.migrate(database)
                }
            } catch {
                await database.close()
                throw error
            }
            return SQLRunStore(database: database, displayName: url.description, readOnly: readOnly)
        }
    }

    func write(_ statements: [SQLStatement]) async throws {
        guard !isReadOnly else { throw StoreError("internal error: a dry run tried to write to the database (a bug)") }
        try await database.transaction(statements)
    }

    private static func json(_ strings: [String]) -> String { JSONValue.array(strings.map(JSONValue.string)).serialized() }

    private static func strings(_ text: String?) -> [String] {
        guard let text, let value = try? JSONValue.parse(text), let array = value.arrayValue else { return [] }
        return array.compactMap(\.stringValue)
    }

    // MARK: Run cache

    private static func record(_ row: SQLRow) -> StageRecord? {
        guard let keyText = row.string("cache_key"), let key = Digest(hex: keyText),
            let stage = row.string("stage").flatMap(StageName.init(rawValue:))
        else { return nil }
        var stamp: FileStamp?
        if let size = row.int64("artifact_size"), let mtime = row.int64("artifact_mtime_ns"), let inode = row.int64("artifact_inode") {
            stamp = FileStamp(size: size, mtimeNanoseconds: mtime, inode: inode)
        }
        return StageRecord(
            key: CacheKey(trusted: key), stage: stage, itemID: row.string("item_id").flatMap { Digest(hex: $0) },
            drop: row.string("drop_name") ?? "", status: row.string("status") == "failed" ? .failed : .succeeded,
            outputDigest: row.string("output_digest").flatMap { Digest(hex: $0) },
            artifactPath: row.string("artifact_path"), artifactStamp: stamp,
            output: JSONText(text: row.string("output") ?? "null"), error: row.string("error"),
            startedAt: row.date("started_at") ?? Date(timeIntervalSince1970: 0),
            durationMilliseconds: row.int("duration_ms") ?? 0)
    }

    public func cacheIndex() async throws -> [CacheKey: StageRecord] {
        // Only what a cache hit needs: this runs on every start and reads one row per finished step.
        let rows = try await database.query(
            """
            SELECT cache_key, stage, item_id, drop_name, output_digest, artifact_path, artifact_size,
                   artifact_mtime_ns, artifact_inode, output
            FROM stage_runs WHERE status = 'succeeded'
            """)
        var index: [CacheKey: StageRecord] = [:]
        index.reserveCapacity(rows.count)
        for row in rows {
            if let record = Self.record(row) { index[record.key] = record }
        }
        return index
    }

    public func failures(drop: String) async throws -> [StageRecord] {
        let rows = try await database.query(
            """
            SELECT cache_key, stage, item_id, drop_name, status, output_digest, artifact_path, artifact_size,
                   artifact_mtime_ns, artifact_inode, output, error, started_at, duration_ms
            FROM stage_runs WHERE status = 'failed' AND drop_name = ? ORDER BY started_at
            """, [.text(drop)])
        return rows.compactMap(Self.record)
    }

    public func currentCrops(drop: String) async throws -> [Digest: StageRecord] {
        let rows = try await database.query(
            """
            SELECT s.cache_key, s.stage, s.item_id, s.drop_name, s.status, s.output_digest, s.artifact_path,
                   s.artifact_size, s.artifact_mtime_ns, s.artifact_inode, s.output, s.error, s.started_at, s.duration_ms,
                   i.flags AS item_flags
            FROM stage_runs s JOIN items i ON s.item_id = i.id AND s.output_digest = i.cropped_digest
            WHERE s.stage = 'crop' AND s.status = 'succeeded'
              AND i.id IN (SELECT item_id FROM drop_items WHERE drop_name = ?)
            ORDER BY s.started_at
            """, [.text(drop)])
        // Several crop runs (other settings) can make the same bytes with other flags or reasons: the one that
        // describes the item is the latest whose flags are the item's (the last run's, as the ledger projects them).
        var result: [Digest: (record: StageRecord, matches: Bool)] = [:]
        for row in rows {
            guard let record = Self.record(row), let item = record.itemID else { continue }
            let flags = CropDecision.recordedFlags(in: record.output.value)
            let matches = flags == Self.strings(row.string("item_flags"))
            if matches || result[item]?.matches != true { result[item] = (record, matches) }
        }
        return result.mapValues(\.record)
    }

    public func runs(itemID: Digest) async throws -> [StageRecord] {
        let rows = try await database.query(
            """
            SELECT cache_key, stage, item_id, drop_name, status, output_digest, artifact_path, artifact_size,
                   artifact_mtime_ns, artifact_inode, output, error, started_at, duration_ms
            FROM stage_runs WHERE item_id = ? ORDER BY started_at
            """, [.text(itemID.hex)])
        return rows.compactMap(Self.record)
    }

    public func record(_ runs: [StageRecord]) async throws {
        var statements: [SQLStatement] = []
        for run in runs {
            statements.append(
                SQLStatement(
                    """
                    INSERT INTO stage_runs (cache_key, stage, item_id, drop_name, status, output_digest, artifact_path,
                        artifact_size, artifact_mtime_ns, artifact_inode, output, error, started_at, duration_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (cache_key) DO UPDATE SET status = excluded.status,
                        output_digest = excluded.output_digest, artifact_path = excluded.artifact_path,
                        artifact_size = excluded.artifact_size, artifact_mtime_ns = excluded.artifact_mtime_ns,
                        artifact_inode = excluded.artifact_inode, output = excluded.output, error = excluded.error,
                        started_at = excluded.started_at, duration_ms = excluded.duration_ms
                    """,
                    [
                        .text(run.key.digest.hex), .text(run.stage.rawValue), .text(run.itemID?.hex), .text(run.drop),
                        .text(run.status.rawValue), .text(run.outputDigest?.hex), .text(run.artifactPath),
                        run.artifactStamp.map { .int($0.size) } ?? .null,
                        run.artifactStamp.map { .int($0.mtimeNanoseconds) } ?? .null,
                        run.artifactStamp.map { .int($0.inode) } ?? .null,
                        .json(run.output.text), .text(run.error), .date(run.startedAt),
                        .int(Int64(run.durationMilliseconds)),
                    ]))
            if run.status == .failed, let item = run.itemID {
                statements.append(
                    SQLStatement(
                        "UPDATE items SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                        [.text("\(run.stage.rawValue): \(run.error ?? "failed")"), .date(run.startedAt), .text(item.hex)]))
            }
        }
        try await write(statements)
    }

    // MARK: Stat cache

    public func statEntries(prefix: String) async throws -> [String: StatEntry] {
        let rows = try await database.query(
            "SELECT path, size, mtime_ns, inode, digest FROM file_stats WHERE substr(path, 1, CAST(? AS INTEGER)) = ?",
            [.int(Int64(prefix.count)), .text(prefix)])
        var entries: [String: StatEntry] = [:]
        entries.reserveCapacity(rows.count)
        for row in rows {
            guard let path = row.string("path"), let size = row.int64("size"), let mtime = row.int64("mtime_ns"),
                let inode = row.int64("inode"), let digest = row.string("digest").flatMap({ Digest(hex: $0) })
            else { continue }
            entries[path] = StatEntry(
                path: path, stamp: FileStamp(size: size, mtimeNanoseconds: mtime, inode: inode), digest: digest)
        }
        return entries
    }

    public func saveStatEntries(_ entries: [StatEntry]) async throws {
        let now = Date()
        try await write(
            entries.map { entry in
                SQLStatement(
                    """
                    INSERT INTO file_stats (path, size, mtime_ns, inode, digest, checked_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                        inode = excluded.inode, digest = excluded.digest, checked_at = excluded.checked_at
                    """,
                    [
                        .text(entry.path), .int(entry.stamp.size), .int(entry.stamp.mtimeNanoseconds),
                        .int(entry.stamp.inode), .text(entry.digest.hex), .date(now),
                    ])
            })
    }

    // MARK: Items

    public func upsertItems(_ items: [ItemRecord], sourcePaths: [Digest: String]) async throws {
        var statements: [SQLStatement] = []
        for item in items {
            statements.append(
                SQLStatement(
                    """
                    INSERT INTO items (id, drop_name, original_name, original_path, raw_path, status, vault, category,
                        tags, description, price_cents, width, height, lineage, flags, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET original_name = excluded.original_name,
                        original_path = excluded.original_path, raw_path = excluded.raw_path,
                        width = excluded.width, height = excluded.height, lineage = excluded.lineage,
                        updated_at = excluded.updated_at
                    """,
                    [
                        .text(item.id.hex), .text(item.drop), .text(item.originalName), .text(item.originalPath),
                        .text(item.rawPath), .text(item.status.rawValue), .text(item.vault), .text(item.category),
                        .json(Self.json(item.tags)), .text(item.description), .int(item.priceCents),
                        .int(item.width), .int(item.height), .json(item.lineage?.serialized()),
                        .json(Self.json(item.flags)), .date(item.createdAt), .date(item.updatedAt),
                    ]))
            if let path = sourcePaths[item.id] {
                statements.append(
                    SQLStatement(
                        """
                        INSERT INTO drop_items (drop_name, item_id, source_path, added_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (drop_name, item_id) DO UPDATE SET source_path = excluded.source_path
                        """, [.text(item.drop), .text(item.id.hex), .text(path), .date(item.updatedAt)]))
            }
        }
        try await write(statements)
    }

    public func updateItems(_ updates: [(Digest, ItemUpdate)], at date: Date) async throws {
        var statements: [SQLStatement] = []
        for (id, update) in updates {
            var sets: [String] = []
            var binds: [SQLValue] = []
            func set(_ column: String, _ value: SQLValue) {
                sets.append("\(column) = ?")
                binds.append(value)
            }
            if let value = update.status { set("status", .text(value.rawValue)) }
            if let value = update.rawPath { set("raw_path", .text(value)) }
            if let value = update.croppedName { set("cropped_name", .text(value)) }
            if let value = update.croppedDigest { set("cropped_digest", .text(value.hex)) }
            if let value = update.vault { set("vault", .text(value)) }
            if let value = update.category { set("category", .text(value)) }
            if let value = update.tags { set("tags", .json(Self.json(value))) }
            if let value = update.description { set("description", .text(value)) }
            if let value = update.priceCents { set("price_cents", .int(Int64(value))) }
            if let value = update.flags { set("flags", .json(Self.json(value))) }
            if let value = update.error { set("error", .text(value)) }
            guard !sets.isEmpty else { continue }
            set("updated_at", .date(date))
            binds.append(.text(id.hex))
            statements.append(SQLStatement("UPDATE items SET \(sets.joined(separator: ", ")) WHERE id = ?", binds))
        }
        try await write(statements)
    }

    static let itemColumns = """
        id, drop_name, original_name, original_path, raw_path, cropped_name, cropped_digest, status, fanvue_media_uuid,
        vault, category, tags, description, price_cents, times_purchased, revenue_cents, width, height, lineage, flags,
        error, created_at, updated_at
        """

    private static func item(_ row: SQLRow) -> ItemRecord? {
        guard let id = row.string("id").flatMap({ Digest(hex: $0) }) else { return nil }
        return ItemRecord(
            id: id, drop: row.string("drop_name") ?? "", originalName: row.string("original_name") ?? "",
            originalPath: row.string("original_path") ?? "", rawPath: row.string("raw_path"),
            croppedName: row.string("cropped_name"), croppedDigest: row.string("cropped_digest").flatMap { Digest(hex: $0) },
            status: row.string("status").flatMap(ItemStatus.init(rawValue:)) ?? .ingested,
            fanvueMediaUUID: row.string("fanvue_media_uuid"), vault: row.string("vault"),
            category: row.string("category"), tags: strings(row.string("tags")), description: row.string("description"),
            priceCents: row.int("price_cents"), timesPurchased: row.int("times_purchased") ?? 0,
            revenueCents: row.int("revenue_cents") ?? 0, width: row.int("width"), height: row.int("height"),
            lineage: row.string("lineage").flatMap { try? JSONValue.parse($0) }, flags: strings(row.string("flags")),
            error: row.string("error"), createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: row.date("updated_at") ?? Date(timeIntervalSince1970: 0))
    }

    public func items(drop: String?) async throws -> [ItemRecord] {
        let rows: [SQLRow]
        if let drop {
            rows = try await database.query(
                """
                SELECT \(Self.itemColumns) FROM items
                WHERE id IN (SELECT item_id FROM drop_items WHERE drop_name = ?) ORDER BY original_name
                """, [.text(drop)])
        } else {
            rows = try await database.query("SELECT \(Self.itemColumns) FROM items ORDER BY drop_name, original_name")
        }
        return rows.compactMap(Self.item)
    }

    public func item(idPrefix: String) async throws -> [ItemRecord] {
        let prefix = idPrefix.lowercased()
        guard !prefix.isEmpty, prefix.allSatisfy(\.isHexDigit) else { return [] }
        let rows = try await database.query(
            "SELECT \(Self.itemColumns) FROM items WHERE substr(id, 1, CAST(? AS INTEGER)) = ? LIMIT 5",
            [.int(Int64(prefix.count)), .text(prefix)])
        return rows.compactMap(Self.item)
    }

    public func items(named name: String) async throws -> [ItemRecord] {
        let rows = try await database.query(
            """
            SELECT \(Self.itemColumns) FROM items
            WHERE original_name = ? OR cropped_name = ? OR id IN (SELECT item_id FROM reviews WHERE file_name = ?)
            ORDER BY drop_name, original_name LIMIT 20
            """, [.text(name), .text(name), .text(name)])
        return rows.compactMap(Self.item)
    }

    public func items(_ ids: [Digest], ownedByOtherThan drop: String) async throws -> [ItemRecord] {
        var result: [ItemRecord] = []
        for chunk in Self.chunks(ids.map(\.hex)) {
            let rows = try await database.query(
                "SELECT \(Self.itemColumns) FROM items WHERE id IN (\(Self.placeholders(chunk.count))) AND drop_name <> ?",
                chunk.map { SQLValue.text($0) } + [.text(drop)])
            result += rows.compactMap(Self.item)
        }
        return result
    }

    // MARK: Drops

    public func dropManifest(_ drop: String) async throws -> String? {
        try await database.query("SELECT manifest_path FROM drops WHERE name = ?", [.text(drop)]).first?.string("manifest_path")
    }

    public func recordDropRun(_ drop: String, manifest: String, at date: Date) async throws {
        try await write([
            SQLStatement(
                """
                INSERT INTO drops (name, manifest_path, first_run_at, last_run_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET manifest_path = excluded.manifest_path, last_run_at = excluded.last_run_at
                """, [.text(drop), .text(manifest), .date(date), .date(date)])
        ])
    }

    // MARK: Reviews

    public func reviews(drop: String) async throws -> [ReviewRecord] {
        let rows = try await database.query(
            """
            SELECT item_id, crop_digest, drop_name, decision, file_name, folder, decided_by, decided_at
            FROM reviews WHERE drop_name = ?
            """, [.text(drop)])
        return rows.compactMap { row in
            guard let item = row.string("item_id").flatMap({ Digest(hex: $0) }),
                let crop = row.string("crop_digest").flatMap({ Digest(hex: $0) }),
                let decision = row.string("decision").flatMap(ReviewDecision.init(rawValue:)),
                let folder = row.string("folder").flatMap(ReviewFolder.init(rawValue:))
            else { return nil }
            return ReviewRecord(
                itemID: item, cropDigest: crop, drop: row.string("drop_name") ?? drop, decision: decision,
                fileName: row.string("file_name") ?? "", folder: folder, decidedBy: row.string("decided_by"),
                decidedAt: row.date("decided_at"))
        }
    }

    public func saveReviews(_ reviews: [ReviewRecord]) async throws {
        let now = Date()
        try await write(
            reviews.map { review in
                SQLStatement(
                    """
                    INSERT INTO reviews (item_id, crop_digest, drop_name, decision, file_name, folder, decided_by,
                        decided_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (item_id, crop_digest) DO UPDATE SET decision = excluded.decision,
                        file_name = excluded.file_name, folder = excluded.folder, decided_by = excluded.decided_by,
                        decided_at = excluded.decided_at, updated_at = excluded.updated_at
                    """,
                    [
                        .text(review.itemID.hex), .text(review.cropDigest.hex), .text(review.drop),
                        .text(review.decision.rawValue), .text(review.fileName), .text(review.folder.rawValue),
                        .text(review.decidedBy), .date(review.decidedAt), .date(now),
                    ])
            })
    }

    public func setReviewFolder(itemID: Digest, cropDigest: Digest, folder: ReviewFolder) async throws {
        try await write([
            SQLStatement(
                "UPDATE reviews SET folder = ?, updated_at = ? WHERE item_id = ? AND crop_digest = ?",
                [.text(folder.rawValue), .date(Date()), .text(itemID.hex), .text(cropDigest.hex)])
        ])
    }

    // MARK: Publications

    public func publication(target: String, destination: String, digest: Digest) async throws -> PublicationRecord? {
        let rows = try await database.query(
            """
            SELECT target, destination, content_digest, item_id, drop_name, reference, metadata, published_at
            FROM publications WHERE target = ? AND destination = ? AND content_digest = ?
            """, [.text(target), .text(destination), .text(digest.hex)])
        guard let row = rows.first, let item = row.string("item_id").flatMap({ Digest(hex: $0) }) else { return nil }
        return PublicationRecord(
            target: target, destination: destination, contentDigest: digest, itemID: item,
            drop: row.string("drop_name") ?? "", reference: row.string("reference"),
            metadata: row.string("metadata").flatMap { try? JSONValue.parse($0) } ?? .null,
            publishedAt: row.date("published_at") ?? Date(timeIntervalSince1970: 0))
    }

    public func savePublication(_ publication: PublicationRecord) async throws -> Bool {
        guard !isReadOnly else { throw StoreError("internal error: a dry run tried to write to the database (a bug)") }
        let rows = try await database.writeQuery(
            SQLStatement(
                """
                INSERT INTO publications (target, destination, content_digest, item_id, drop_name, reference, metadata,
                    published_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (target, destination, content_digest) DO NOTHING
                RETURNING id
                """,
                [
                    .text(publication.target), .text(publication.destination), .text(publication.contentDigest.hex),
                    .text(publication.itemID.hex), .text(publication.drop), .text(publication.reference),
                    .json(publication.metadata.serialized()), .date(publication.publishedAt),
                ]))
        if rows.isEmpty {
            try await write([
                SQLStatement(
                    "UPDATE publications SET metadata = ? WHERE target = ? AND destination = ? AND content_digest = ?",
                    [
                        .json(publication.metadata.serialized()), .text(publication.target),
                        .text(publication.destination), .text(publication.contentDigest.hex),
                    ])
            ])
        }
        return !rows.isEmpty
    }

    // MARK: Crop overrides

    public func lineOverrides() async throws -> [Digest: Double] {
        let rows = try await database.query("SELECT item_id, line_fraction FROM crop_overrides")
        var result: [Digest: Double] = [:]
        for row in rows {
            if let item = row.string("item_id").flatMap({ Digest(hex: $0) }), let line = row.double("line_fraction") {
                result[item] = line
            }
        }
        return result
    }

    public func setLineOverride(itemID: Digest, fraction: Double?, by: String, at date: Date) async throws {
        guard let fraction else {
            try await write([SQLStatement("DELETE FROM crop_overrides WHERE item_id = ?", [.text(itemID.hex)])])
            return
        }
        try await write([
            SQLStatement(
                """
                INSERT INTO crop_overrides (item_id, line_fraction, set_by, set_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (item_id) DO UPDATE SET line_fraction = excluded.line_fraction, set_by = excluded.set_by,
                    set_at = excluded.set_at
                """, [.text(itemID.hex), .double(fraction), .text(by), .date(date)])
        ])
    }

    // MARK: Publish overrides

    public func publishOverrides() async throws -> [Digest: PublishOverride] {
        let rows = try await database.query("SELECT item_id, vault, price_cents, tags FROM publish_overrides")
        var result: [Digest: PublishOverride] = [:]
        for row in rows {
            guard let item = row.string("item_id").flatMap({ Digest(hex: $0) }) else { continue }
            result[item] = PublishOverride(
                vault: row.string("vault"), priceCents: row.int("price_cents"),
                tags: row.string("tags").map { Self.strings($0) })
        }
        return result
    }

    public func setPublishOverride(itemID: Digest, _ override: PublishOverride, by: String, at date: Date) async throws {
        guard !override.isEmpty else {
            try await write([SQLStatement("DELETE FROM publish_overrides WHERE item_id = ?", [.text(itemID.hex)])])
            return
        }
        try await write([
            SQLStatement(
                """
                INSERT INTO publish_overrides (item_id, vault, price_cents, tags, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (item_id) DO UPDATE SET vault = excluded.vault, price_cents = excluded.price_cents,
                    tags = excluded.tags, set_by = excluded.set_by, set_at = excluded.set_at
                """,
                [
                    .text(itemID.hex), .text(override.vault), .int(override.priceCents),
                    .json(override.tags.map { Self.json($0) }), .text(by), .date(date),
                ])
        ])
    }

    // MARK: Fanvue: uploads, vault, posts, sends

    public func upload(contentDigest: Digest, account: String) async throws -> UploadRecord? {
        let rows = try await database.query(
            """
            SELECT content_digest, account, item_id, upload_id, media_uuid, status, part_size, parts, error, created_at,
                   updated_at
            FROM uploads WHERE content_digest = ? AND account = ?
            """, [.text(contentDigest.hex), .text(account)])
        guard let row = rows.first, let item = row.string("item_id").flatMap({ Digest(hex: $0) }),
            let status = row.string("status").flatMap(UploadRecord.Status.init(rawValue:))
        else { return nil }
        let parts = (row.string("parts").flatMap { try? JSONDecoder().decode([UploadRecord.Part].self, from: Data($0.utf8)) }) ?? []
        return UploadRecord(
            contentDigest: contentDigest, account: account, itemID: item, uploadID: row.string("upload_id"),
            mediaUUID: row.string("media_uuid"), status: status, partSize: row.int("part_size") ?? 0, parts: parts,
            error: row.string("error"), createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: row.date("updated_at") ?? Date(timeIntervalSince1970: 0))
    }

    public func saveUpload(_ upload: UploadRecord) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let parts = String(decoding: (try? encoder.encode(upload.parts)) ?? Data("[]".utf8), as: UTF8.self)
        var statements = [
            SQLStatement(
                """
                INSERT INTO uploads (content_digest, account, item_id, upload_id, media_uuid, status, part_size, parts,
                    error, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (content_digest, account) DO UPDATE SET item_id = excluded.item_id,
                    upload_id = excluded.upload_id, media_uuid = excluded.media_uuid, status = excluded.status,
                    part_size = excluded.part_size, parts = excluded.parts, error = excluded.error,
                    updated_at = excluded.updated_at
                """,
                [
                    .text(upload.contentDigest.hex), .text(upload.account), .text(upload.itemID.hex), .text(upload.uploadID),
                    .text(upload.mediaUUID), .text(upload.status.rawValue), .int(upload.partSize), .json(parts),
                    .text(upload.error), .date(upload.createdAt), .date(upload.updatedAt),
                ])
        ]
        if upload.status == .ready, let media = upload.mediaUUID {
            // In the same transaction: a process killed in between must not leave a ready upload its item never knew.
            statements.append(
                SQLStatement(
                    "UPDATE items SET fanvue_media_uuid = ?, updated_at = ? WHERE id = ?",
                    [.text(media), .date(upload.updatedAt), .text(upload.itemID.hex)]))
        }
        try await write(statements)
    }

    public func vaultMedia(account: String, folder: String) async throws -> Set<String> {
        let rows = try await database.query(
            "SELECT media_uuid FROM vault_media WHERE account = ? AND folder = ?", [.text(account), .text(folder)])
        return Set(rows.compactMap { $0.string("media_uuid") })
    }

    public func addVaultMedia(account: String, folder: String, mediaUUIDs: [String], at date: Date) async throws {
        try await write(
            mediaUUIDs.map {
                SQLStatement(
                    """
                    INSERT INTO vault_media (account, folder, media_uuid, attached_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (account, folder, media_uuid) DO NOTHING
                    """, [.text(account), .text(folder), .text($0), .date(date)])
            })
    }

    public func post(requestKey: String) async throws -> String? {
        let rows = try await database.query("SELECT post_uuid FROM posts WHERE request_key = ?", [.text(requestKey)])
        guard let row = rows.first else { return nil }
        return row.string("post_uuid") ?? ""
    }

    public func savePost(
        requestKey: String, account: String, drop: String, audience: String, priceCents: Int?, text: String,
        publishAt: Date?, allowPPV: Bool, uuid: String?, items: [Digest], at date: Date
    ) async throws {
        var statements = [
            SQLStatement(
                """
                INSERT INTO posts (post_uuid, drop_name, audience, price_cents, text, publish_at, created_at, request_key,
                    account, allow_ppv)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (request_key) DO UPDATE SET post_uuid = excluded.post_uuid, allow_ppv = excluded.allow_ppv
                """,
                [
                    .text(uuid), .text(drop), .text(audience), .int(priceCents), .text(text), .date(publishAt), .date(date),
                    .text(requestKey), .text(account), .bool(allowPPV),
                ])
        ]
        if uuid != nil {
            for item in items {
                statements.append(
                    SQLStatement(
                        """
                        INSERT INTO post_items (post_id, item_id) SELECT id, ? FROM posts WHERE request_key = ?
                        ON CONFLICT (post_id, item_id) DO NOTHING
                        """, [.text(item.hex), .text(requestKey)]))
            }
        }
        try await write(statements)
    }

    public func sends(fan: String) async throws -> [Digest: String?] {
        let rows = try await database.query("SELECT item_id, COALESCE(message_uuid, mass_message_id) AS message_uuid FROM sends WHERE fan_uuid = ?", [.text(fan)])
        var result: [Digest: String?] = [:]
        for row in rows {
            if let item = row.string("item_id").flatMap({ Digest(hex: $0) }) { result[item] = .some(row.string("message_uuid")) }
        }
        return result
    }

    public func claimSends(
        fan: String, items: [Digest], priceCents: Int?, context: SendContext, at date: Date
    ) async throws -> [Digest] {
        guard !isReadOnly else { throw StoreError("internal error: a dry run tried to write to the database (a bug)") }
        var claimed: [Digest] = []
        for item in items {
            let rows = try await database.writeQuery(
                SQLStatement(
                    """
                    INSERT INTO sends (item_id, fan_uuid, price_cents, sent_at, account, drop_name, via, list_name)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (item_id, fan_uuid) DO NOTHING RETURNING item_id
                    """,
                    [
                        .text(item.hex), .text(fan), .int(priceCents), .date(date), .text(context.account),
                        .text(context.drop), .text(context.via), .text(context.listName),
                    ]))
            if !rows.isEmpty { claimed.append(item) }
        }
        return claimed
    }

    public func confirmSends(fan: String, items: [Digest], messageUUID: String?, massMessageID: String?) async throws {
        try await write(
            items.map {
                SQLStatement(
                    """
                    UPDATE sends SET message_uuid = COALESCE(?, message_uuid), mass_message_id = COALESCE(?, mass_message_id)
                    WHERE item_id = ? AND fan_uuid = ?
                    """,
                    [.text(messageUUID), .text(massMessageID), .text($0.hex), .text(fan)])
            })
    }

    public func releaseSends(fan: String, items: [Digest]) async throws {
        try await write(
            items.map {
                SQLStatement(
                    "DELETE FROM sends WHERE item_id = ? AND fan_uuid = ? AND message_uuid IS NULL AND mass_message_id IS NULL",
                    [.text($0.hex), .text(fan)])
            })
    }

    public func ppvSends(items: [Digest]) async throws -> [Digest: Int] {
        guard !items.isEmpty else { return [:] }
        let rows = try await database.query(
            "SELECT item_id, COUNT(*) AS fans FROM sends WHERE item_id IN (\(Self.placeholders(items.count))) AND price_cents IS NOT NULL GROUP BY item_id",
            items.map { .text($0.hex) })
        var result: [Digest: Int] = [:]
        for row in rows {
            if let item = row.string("item_id").flatMap({ Digest(hex: $0) }) { result[item] = row.int("fans") ?? 0 }
        }
        return result
    }

    // MARK: Events

    public func append(_ events: [EventRecord]) async throws {
        try await write(
            events.map { event in
                SQLStatement(
                    "INSERT INTO events (at, kind, drop_name, item_id, stage, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        .date(event.at), .text(event.kind), .text(event.drop), .text(event.itemID?.hex),
                        .text(event.stage?.rawValue), .text(event.message), .json(event.data?.serialized()),
                    ])
            })
    }

    public func events(drop: String?, limit: Int) async throws -> [EventRecord] {
        let rows: [SQLRow]
        let columns = "at, kind, drop_name, item_id, stage, message, data"
        if let drop {
            rows = try await database.query(
                "SELECT \(columns) FROM events WHERE drop_name = ? ORDER BY id DESC LIMIT ?", [.text(drop), .int(Int64(limit))])
        } else {
            rows = try await database.query("SELECT \(columns) FROM events ORDER BY id DESC LIMIT ?", [.int(Int64(limit))])
        }
        return rows.reversed().map { row in
            EventRecord(
                kind: row.string("kind") ?? "", drop: row.string("drop_name"),
                itemID: row.string("item_id").flatMap { Digest(hex: $0) },
                stage: row.string("stage").flatMap(StageName.init(rawValue:)), message: row.string("message") ?? "",
                data: row.string("data").flatMap { try? JSONValue.parse($0) },
                at: row.date("at") ?? Date(timeIntervalSince1970: 0))
        }
    }

    public func close() async { await database.close() }
}
