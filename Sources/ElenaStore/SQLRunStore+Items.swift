package import ElenaCore
package import Foundation

/// Items and the drops that hold them.
extension SQLRunStore: ItemCatalog {
    package func currentCrops(drop: String) async throws -> [Digest: StageRecord] {
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
            let flags = CropDecision.recordedFlags(in: record.output)
            let matches = flags == Self.strings(row.string("item_flags"))
            if matches || result[item]?.matches != true { result[item] = (record, matches) }
        }
        return result.mapValues(\.record)
    }

    package func upsertItems(_ items: [ItemRecord], sourcePaths: [Digest: String]) async throws {
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

    package func updateItems(_ updates: [(Digest, ItemUpdate)], at date: Date) async throws {
        try await write(Self.itemStatements(updates, at: date))
    }

    static func itemStatements(_ updates: [(Digest, ItemUpdate)], at date: Date) -> [SQLStatement] {
        // Each update as the columns it sets and their values, the item's id first.
        var rows: [(columns: [String], values: [SQLValue])] = []
        for (id, update) in updates {
            var columns: [String] = []
            var values: [SQLValue] = [.text(id.hex)]
            func set(_ column: String, _ value: SQLValue) {
                columns.append(column)
                values.append(value)
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
            if let value = update.fingerprints {
                set("fingerprint", .text(value.picture.description))
                set("crop_fingerprint", value.crop.map { .text($0.description) } ?? .null)
            }
            if !columns.isEmpty { rows.append((columns, values)) }
        }
        // Updates that set the same columns go many to a statement (a run's part of 1,500 items sets their crops: one
        // statement a round trip, against a server 20 ms away). Only when every item comes once: two updates of one
        // item in one statement would leave either.
        let ids = rows.map { $0.values[0] }
        guard Set(ids).count == ids.count else { return rows.map { single($0.columns, $0.values, at: date) } }
        var groups: [[String]: [[SQLValue]]] = [:]
        var order: [[String]] = []
        for row in rows {
            if groups[row.columns] == nil { order.append(row.columns) }
            groups[row.columns, default: []].append(row.values)
        }
        return order.flatMap { columns -> [SQLStatement] in
            let group = groups[columns] ?? []
            guard group.count > 1 else { return group.map { single(columns, $0, at: date) } }
            return chunks(group, size: itemUpdatesPerStatement).map { batch in
                // A VALUES table's columns are column1, column2, … in both dialects: the id first, then each column.
                let sets = columns.enumerated().map { "\($1) = v.column\($0 + 2)" } + ["updated_at = ?"]
                return SQLStatement(
                    """
                    UPDATE items SET \(sets.joined(separator: ", "))
                    FROM (VALUES \(valueRows(batch.count, width: columns.count + 1))) AS v WHERE items.id = v.column1
                    """, [.date(date)] + batch.flatMap { $0 })
            }
        }
    }

    /// One item's update: `columns` set to `values` (the id first).
    private static func single(_ columns: [String], _ values: [SQLValue], at date: Date) -> SQLStatement {
        let sets = columns.map { "\($0) = ?" } + ["updated_at = ?"]
        return SQLStatement(
            "UPDATE items SET \(sets.joined(separator: ", ")) WHERE id = ?", Array(values.dropFirst()) + [.date(date), values[0]])
    }

    /// Item updates per statement: at most 14 values each.
    static let itemUpdatesPerStatement = 500

    static let itemColumns = """
        id, drop_name, original_name, original_path, raw_path, cropped_name, cropped_digest, status, fanvue_media_uuid,
        vault, category, tags, description, price_cents, times_purchased, revenue_cents, width, height, lineage, flags,
        error, created_at, updated_at, fingerprint, crop_fingerprint
        """

    /// An item's fingerprints as its row keeps them (nil before its first fingerprint step).
    static func fingerprints(_ row: SQLRow) -> ItemFingerprints? {
        guard let picture = row.string("fingerprint").flatMap(PictureFingerprint.init(text:)) else { return nil }
        return ItemFingerprints(picture: picture, crop: row.string("crop_fingerprint").flatMap(PictureFingerprint.init(text:)))
    }

    static func item(_ row: SQLRow) -> ItemRecord? {
        guard let id = row.digest("id") else { return nil }
        return ItemRecord(
            id: id, drop: row.string("drop_name") ?? "", originalName: row.string("original_name") ?? "",
            originalPath: row.string("original_path") ?? "", rawPath: row.string("raw_path"),
            croppedName: row.string("cropped_name"), croppedDigest: row.digest("cropped_digest"),
            status: row.string("status").flatMap(ItemStatus.init(rawValue:)) ?? .ingested,
            fanvueMediaUUID: row.string("fanvue_media_uuid"), vault: row.string("vault"),
            category: row.string("category"), tags: strings(row.string("tags")), description: row.string("description"),
            priceCents: row.int("price_cents"), timesPurchased: row.int("times_purchased") ?? 0,
            revenueCents: row.int("revenue_cents") ?? 0, width: row.int("width"), height: row.int("height"),
            lineage: row.string("lineage").flatMap { try? JSONValue.parse($0) }, flags: strings(row.string("flags")),
            error: row.string("error"), createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: row.date("updated_at") ?? Date(timeIntervalSince1970: 0), fingerprints: fingerprints(row))
    }

    package func items(drop: String?) async throws -> [ItemRecord] {
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

    package func rowFields(drop: String, items ids: [Digest]) async throws -> [Digest: ItemRowFields] {
        let pairs = try await rows(
            of: ids, table: "items",
            columns: """
                id, cropped_name, cropped_digest, flags, status, vault, category, tags, price_cents, description, error,
                fingerprint, crop_fingerprint
                """, idColumn: "id",
            indexCondition: "EXISTS (SELECT 1 FROM drop_items WHERE drop_items.drop_name = ? AND drop_items.item_id = items.id)",
            binds: [.text(drop)], limit: ids.count
        ) { row -> (Digest, ItemRowFields)? in
            guard let id = row.digest("id") else { return nil }
            return (
                id,
                ItemRowFields(
                    croppedName: row.string("cropped_name"), croppedDigest: row.digest("cropped_digest"),
                    flags: Self.strings(row.string("flags")),
                    status: row.string("status").flatMap(ItemStatus.init(rawValue:)) ?? .ingested, vault: row.string("vault"),
                    category: row.string("category"), tags: Self.strings(row.string("tags")), priceCents: row.int("price_cents"),
                    description: row.string("description"), error: row.string("error"), fingerprint: row.string("fingerprint"),
                    cropFingerprint: row.string("crop_fingerprint"))
            )
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    package func fingerprints(items ids: [Digest]?) async throws -> [Digest: ItemFingerprints] {
        let map: @Sendable (SQLRow) -> (Digest, ItemFingerprints)? = { row in
            guard let id = row.digest("id"), let prints = Self.fingerprints(row) else { return nil }
            return (id, prints)
        }
        let pairs: [(Digest, ItemFingerprints)]
        if let ids {
            pairs = try await rows(
                of: ids, table: "items", columns: "id, fingerprint, crop_fingerprint", idColumn: "id",
                condition: "fingerprint IS NOT NULL", limit: ids.count, map: map)
        } else {
            pairs = try await database.query(
                SQLStatement("SELECT id, fingerprint, crop_fingerprint FROM items WHERE fingerprint IS NOT NULL"), map: map)
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    /// Read by every run of a drop whose items wait for review: two integers and the id of each decided item, from
    /// the partial index `items_decided_structures` (migration 11), never a scan of the library's items or their texts.
    package static let decidedStructuresQuery = """
        SELECT id, structure, crop_structure FROM items
        WHERE status IN ('approved', 'published') AND fingerprint IS NOT NULL
        """

    package func decidedStructures() async throws -> [DecidedStructure] {
        try await database.query(SQLStatement(Self.decidedStructuresQuery)) { row in
            guard let id = row.digest("id") else { return nil }
            func bits(_ column: String) -> UInt64? { row.int64(column).map { UInt64(bitPattern: $0) } }
            return DecidedStructure(id: id, picture: bits("structure"), crop: bits("crop_structure"))
        }
    }

    package func decidedPictures(_ ids: [Digest]) async throws -> [DecidedPicture] {
        // Found by their ids, through the primary key. The status is judged here: as a condition of the query, SQLite
        // chose to walk every decided item in `items_decided_structures` instead (25 ms for one id among 100,000).
        try await rows(
            of: ids, table: "items", columns: "id, original_name, drop_name, status, fingerprint, crop_fingerprint", idColumn: "id",
            condition: "fingerprint IS NOT NULL", limit: ids.count
        ) { row in
            guard let id = row.digest("id"), let prints = Self.fingerprints(row),
                let status = row.string("status").flatMap(ItemStatus.init(rawValue:)), status == .approved || status == .published
            else { return nil }
            return DecidedPicture(
                id: id, name: row.string("original_name") ?? "", drop: row.string("drop_name") ?? "", status: status, prints: prints)
        }
    }

    package func lookalikeState(drop: String) async throws -> LookalikeState {
        // One round trip: the version the triggers of migration 12 keep, whether any picture is decided (the first
        // entry of `items_decided_structures`), and the drop's last look.
        let rows = try await database.query(
            """
            SELECT v.value AS version,
                CASE WHEN EXISTS (SELECT 1 FROM items WHERE status IN ('approved', 'published') AND fingerprint IS NOT NULL)
                    THEN 1 ELSE 0 END AS any_decided,
                c.decided_version, c.waiting, c.found
            FROM ledger_versions v LEFT JOIN lookalike_checks c ON c.drop_name = ?
            WHERE v.name = 'decided_pictures'
            """, [.text(drop)])
        guard let row = rows.first, let version = row.int64("version") else {
            throw StoreError("the ledger has no version of its decided pictures (ledger_versions): is its schema whole?")
        }
        var last: LookalikeCheck?
        if let checked = row.int64("decided_version"), let waiting = row.digest("waiting"),
            let found = row.string("found").flatMap(LookalikeCheck.found(json:))
        {
            last = LookalikeCheck(drop: drop, decidedVersion: checked, waiting: waiting, found: found)
        }
        return LookalikeState(version: version, anyDecided: row.int64("any_decided") == 1, last: last)
    }

    package func saveLookalikeCheck(_ check: LookalikeCheck) async throws {
        try await write([
            SQLStatement(
                """
                INSERT INTO lookalike_checks (drop_name, decided_version, waiting, found) VALUES (?, ?, ?, ?)
                ON CONFLICT (drop_name) DO UPDATE SET decided_version = excluded.decided_version,
                    waiting = excluded.waiting, found = excluded.found
                """, [.text(check.drop), .int(check.decidedVersion), .text(check.waiting.hex), .json(check.foundJSON)])
        ])
    }

    package func itemRowState(drop: String) async throws -> ItemRowState {
        // One round trip: the version the triggers of migration 13 keep, and the drop's last comparison.
        let rows = try await database.query(
            """
            SELECT v.value AS version, c.rows_version, c.parts
            FROM ledger_versions v LEFT JOIN item_row_checks c ON c.drop_name = ?
            WHERE v.name = 'item_rows'
            """, [.text(drop)])
        guard let row = rows.first, let version = row.int64("version") else {
            throw StoreError("the ledger has no version of its item rows (ledger_versions): is its schema whole?")
        }
        var last: ItemRowCheck?
        if let checked = row.int64("rows_version"), let parts = row.string("parts").flatMap(ItemRowCheck.parts(json:)) {
            last = ItemRowCheck(drop: drop, rowsVersion: checked, parts: parts)
        }
        return ItemRowState(version: version, last: last)
    }

    package func saveItemRowCheck(_ check: ItemRowCheck) async throws -> Bool {
        // Kept only while the version is the one the comparison was made at, checked in the same statement: a row
        // changed meanwhile (by anyone) leaves the last comparison, which no longer holds either, to be replaced.
        let kept = try await writeQuery(
            SQLStatement(
                """
                INSERT INTO item_row_checks (drop_name, rows_version, parts)
                SELECT ?, ?, ? WHERE (SELECT value FROM ledger_versions WHERE name = 'item_rows') = ?
                ON CONFLICT (drop_name) DO UPDATE SET rows_version = excluded.rows_version, parts = excluded.parts
                RETURNING drop_name
                """, [.text(check.drop), .int(check.rowsVersion), .json(check.partsJSON), .int(check.rowsVersion)]))
        return !kept.isEmpty
    }

    package func item(idPrefix: String) async throws -> [ItemRecord] {
        let prefix = idPrefix.lowercased()
        guard !prefix.isEmpty, prefix.allSatisfy(\.isHexDigit) else { return [] }
        let rows = try await database.query(
            "SELECT \(Self.itemColumns) FROM items WHERE substr(id, 1, CAST(? AS INTEGER)) = ? LIMIT 5",
            [.int(Int64(prefix.count)), .text(prefix)])
        return rows.compactMap(Self.item)
    }

    package func items(named name: String) async throws -> [ItemRecord] {
        let rows = try await database.query(
            """
            SELECT \(Self.itemColumns) FROM items
            WHERE original_name = ? OR cropped_name = ? OR id IN (SELECT item_id FROM reviews WHERE file_name = ?)
            ORDER BY drop_name, original_name LIMIT 20
            """, [.text(name), .text(name), .text(name)])
        return rows.compactMap(Self.item)
    }

    package func items(_ ids: [Digest], ownedByOtherThan drop: String) async throws -> [ItemRecord] {
        try await rows(
            of: ids, table: "items", columns: Self.itemColumns, idColumn: "id", condition: "drop_name <> ?", binds: [.text(drop)],
            limit: ids.count, map: Self.item)
    }

    // MARK: Drops

    package func statusCounts() async throws -> [DropStatusCount] {
        try await database.query("SELECT drop_name, status, COUNT(*) AS n FROM items GROUP BY drop_name, status ORDER BY 1, 2")
            .compactMap { row in
                guard let drop = row.string("drop_name"), let status = row.string("status").flatMap(ItemStatus.init(rawValue:)),
                    let count = row.int("n")
                else { return nil }
                return DropStatusCount(drop: drop, status: status, count: count)
            }
    }

    package func dropNames() async throws -> [String] {
        // The drops that hold items, found by skipping along drop_items' key one drop at a time (a DISTINCT over it
        // would read every membership row of the library).
        try await database.query(
            """
            WITH RECURSIVE holding (name) AS (
                SELECT MIN(drop_name) FROM drop_items
                UNION ALL
                SELECT (SELECT MIN(drop_name) FROM drop_items WHERE drop_name > holding.name) FROM holding
                WHERE holding.name IS NOT NULL)
            SELECT name FROM holding WHERE name IS NOT NULL UNION SELECT name FROM drops ORDER BY 1
            """
        ).compactMap { $0.string("name") }
    }

    package func dropManifest(_ drop: String) async throws -> String? {
        try await database.query("SELECT manifest_path FROM drops WHERE name = ?", [.text(drop)]).first?.string("manifest_path")
    }

    package func recordDropRun(_ drop: String, manifest: String, at date: Date) async throws {
        try await write([
            SQLStatement(
                """
                INSERT INTO drops (name, manifest_path, first_run_at, last_run_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET manifest_path = excluded.manifest_path, last_run_at = excluded.last_run_at
                """, [.text(drop), .text(manifest), .date(date), .date(date)])
        ])
    }
}
