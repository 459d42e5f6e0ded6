package import ElenaCore
package import Foundation

/// The sales side of the ledger: sends, posts, purchases, fans and where `sync` stopped.
extension SQLRunStore {
    static func sendRecord(_ row: SQLRow) -> SendRecord? {
        guard let item = row.digest("item_id"), let fan = row.string("fan_uuid") else {
            return nil
        }
        return SendRecord(
            itemID: item, fan: fan, messageUUID: row.string("message_uuid"), massMessageID: row.string("mass_message_id"),
            listName: row.string("list_name"), priceCents: row.int("price_cents"),
            sentAt: row.date("sent_at") ?? Date(timeIntervalSince1970: 0), purchasedAt: row.date("purchased_at"),
            via: row.string("via"), drop: row.string("drop_name"), campaignID: row.string("campaign_id"))
    }

    static let sendColumns =
        "item_id, fan_uuid, message_uuid, mass_message_id, list_name, price_cents, sent_at, purchased_at, via, drop_name, campaign_id"

    package func allSends() async throws -> [SendRecord] {
        try await database.query("SELECT \(Self.sendColumns) FROM sends ORDER BY id").compactMap(Self.sendRecord)
    }

    package func sends(items: [Digest]) async throws -> [SendRecord] {
        var result: [SendRecord] = []
        for chunk in Self.chunks(items.map(\.hex)) {
            let rows = try await database.query(
                "SELECT \(Self.sendColumns) FROM sends WHERE item_id IN (\(Self.placeholders(chunk.count))) ORDER BY id",
                chunk.map { .text($0) })
            result += rows.compactMap(Self.sendRecord)
        }
        return result
    }

    package func allPosts() async throws -> [PostRecord] {
        let posts = try await database.query(
            "SELECT id, post_uuid, drop_name, audience, price_cents, created_at, request_key, account FROM posts ORDER BY id")
        let links = try await database.query("SELECT post_id, item_id FROM post_items")
        var items: [Int: [Digest]] = [:]
        for row in links {
            if let post = row.int("post_id"), let item = row.digest("item_id") {
                items[post, default: []].append(item)
            }
        }
        return posts.map { row in
            PostRecord(
                uuid: row.string("post_uuid"), drop: row.string("drop_name"), audience: row.string("audience") ?? "",
                priceCents: row.int("price_cents"), items: (items[row.int("id") ?? -1] ?? []).sorted { $0.hex < $1.hex },
                createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0), requestKey: row.string("request_key"),
                account: row.string("account"))
        }
    }

    package func mediaItems() async throws -> [String: Digest] {
        let rows = try await database.query("SELECT media_uuid, item_id FROM uploads WHERE media_uuid IS NOT NULL")
        var result: [String: Digest] = [:]
        for row in rows {
            if let media = row.string("media_uuid"), let item = row.digest("item_id") {
                result[media] = item
            }
        }
        return result
    }

    package func purchases() async throws -> [PurchaseRecord] {
        let rows = try await database.query(
            """
            SELECT transaction_id, fan_uuid, source, message_uuid, post_uuid, gross_cents, net_cents, currency, status,
                purchased_at
            FROM purchases ORDER BY purchased_at, transaction_id
            """)
        return rows.compactMap { row in
            guard let id = row.string("transaction_id") else { return nil }
            return PurchaseRecord(
                transactionID: id, fan: row.string("fan_uuid"), source: row.string("source") ?? "",
                messageUUID: row.string("message_uuid"), postUUID: row.string("post_uuid"),
                grossCents: row.int("gross_cents") ?? 0, netCents: row.int("net_cents") ?? 0,
                currency: row.string("currency"), status: row.string("status"),
                at: row.date("purchased_at") ?? Date(timeIntervalSince1970: 0))
        }
    }

    package func purchaseShares() async throws -> [PurchaseShare] {
        let rows = try await database.query(
            "SELECT transaction_id, item_id, gross_cents, net_cents FROM purchase_items ORDER BY transaction_id, item_id")
        return rows.compactMap { row in
            guard let id = row.string("transaction_id"), let item = row.digest("item_id") else {
                return nil
            }
            return PurchaseShare(
                transactionID: id, itemID: item, grossCents: row.int("gross_cents") ?? 0, netCents: row.int("net_cents") ?? 0)
        }
    }

    package func savePurchases(
        _ purchases: [PurchaseRecord], shares: [PurchaseShare], purchasedSends: [(fan: String, item: Digest, at: Date)],
        account: String, at date: Date
    ) async throws -> Int {
        var known: Set<String> = []
        for chunk in Self.chunks(purchases.map(\.transactionID)) {
            let rows = try await database.query(
                "SELECT transaction_id FROM purchases WHERE transaction_id IN (\(Self.placeholders(chunk.count)))",
                chunk.map { .text($0) })
            known.formUnion(rows.compactMap { $0.string("transaction_id") })
        }
        var statements: [SQLStatement] = purchases.map { purchase in
            SQLStatement(
                """
                INSERT INTO purchases (transaction_id, account, fan_uuid, source, message_uuid, post_uuid, gross_cents,
                    net_cents, currency, status, purchased_at, synced_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (transaction_id) DO UPDATE SET status = excluded.status
                """,
                [
                    .text(purchase.transactionID), .text(account), .text(purchase.fan), .text(purchase.source),
                    .text(purchase.messageUUID), .text(purchase.postUUID), .int(purchase.grossCents),
                    .int(purchase.netCents), .text(purchase.currency), .text(purchase.status), .date(purchase.at),
                    .date(date),
                ])
        }
        statements += shares.map { share in
            SQLStatement(
                """
                INSERT INTO purchase_items (transaction_id, item_id, gross_cents, net_cents) VALUES (?, ?, ?, ?)
                ON CONFLICT (transaction_id, item_id) DO NOTHING
                """, [.text(share.transactionID), .text(share.itemID.hex), .int(share.grossCents), .int(share.netCents)])
        }
        statements += purchasedSends.map { send in
            SQLStatement(
                "UPDATE sends SET purchased_at = ? WHERE fan_uuid = ? AND item_id = ? AND purchased_at IS NULL",
                [.date(send.at), .text(send.fan), .text(send.item.hex)])
        }
        // Each item's totals are recomputed from the shares, so running sync again cannot count anything twice.
        statements.append(
            SQLStatement(
                """
                UPDATE items SET
                    times_purchased = (SELECT COUNT(*) FROM purchase_items WHERE purchase_items.item_id = items.id
                        AND purchase_items.gross_cents > 0),
                    revenue_cents = (SELECT COALESCE(SUM(net_cents), 0) FROM purchase_items
                        WHERE purchase_items.item_id = items.id)
                WHERE id IN (SELECT item_id FROM purchase_items)
                """))
        try await write(statements)
        return purchases.filter { !known.contains($0.transactionID) }.count
    }

    package func linkMassSends(fan: String, items: [Digest], messageUUID: String) async throws {
        try await write(
            items.map {
                SQLStatement(
                    "UPDATE sends SET message_uuid = ? WHERE fan_uuid = ? AND item_id = ? AND message_uuid IS NULL",
                    [.text(messageUUID), .text(fan), .text($0.hex)])
            })
    }

    package func saveFans(account: String, _ fans: [FanRecord], at date: Date) async throws {
        var statements = [SQLStatement("UPDATE fans SET subscriber = ? WHERE account = ?", [.bool(false), .text(account)])]
        statements += fans.map { fan in
            SQLStatement(
                """
                INSERT INTO fans (account, uuid, handle, display_name, subscriber, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (account, uuid) DO UPDATE SET handle = excluded.handle, display_name = excluded.display_name,
                    subscriber = excluded.subscriber, updated_at = excluded.updated_at
                """,
                [.text(account), .text(fan.uuid), .text(fan.handle), .text(fan.displayName), .bool(fan.subscriber), .date(date)])
        }
        try await write(statements)
    }

    package func fans(account: String?) async throws -> [FanRecord] {
        let columns = "SELECT uuid, handle, display_name, subscriber FROM fans"
        let rows =
            if let account {
                try await database.query(columns + " WHERE account = ? ORDER BY uuid", [.text(account)])
            } else {
                try await database.query(columns + " ORDER BY uuid")
            }
        return rows.compactMap { row in
            guard let uuid = row.string("uuid") else { return nil }
            return FanRecord(
                uuid: uuid, handle: row.string("handle"), displayName: row.string("display_name"),
                subscriber: (row.int("subscriber") ?? 0) != 0)
        }
    }

    package func syncValue(_ key: String) async throws -> String? {
        try await database.query("SELECT value FROM sync_state WHERE key = ?", [.text(key)]).first?.string("value")
    }

    package func setSyncValue(_ key: String, _ value: String, at date: Date) async throws {
        try await write([
            SQLStatement(
                """
                INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, [.text(key), .text(value), .date(date)])
        ])
    }

    static func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }

    /// The `VALUES` of a many-row insert: `count` rows of `width` placeholders, `(?, ?), (?, ?)`.
    static func valueRows(_ count: Int, width: Int) -> String {
        Array(repeating: "(\(placeholders(width)))", count: count).joined(separator: ", ")
    }

    /// What `map` makes of the rows of `table` whose `idColumn` is one of `items` (and that meet `indexCondition` and
    /// `condition`, whose placeholders `binds` fill in that order; `indexCondition` is one the indexes answer without
    /// the row, checked first). Two ways, chosen by size: when the table holds no more candidates than `limit`,
    /// they are read in one pass and kept here by id (a drop of 100,000 items is most of its library, and looking its
    /// ids up one by one took a quarter of a second per table); otherwise the ids go to the database as one JSON
    /// array in one statement (a drop of 500 items in that library reads 500 items' rows).
    func rows<T: Sendable>(
        of items: [Digest], table: String, columns: String, idColumn: String, condition: String? = nil,
        indexCondition: String? = nil, binds: [SQLValue] = [], limit: Int, map: @escaping @Sendable (SQLRow) -> T?
    ) async throws -> [T] {
        guard !items.isEmpty else { return [] }
        let conditions = [indexCondition, condition].compactMap { $0 }.joined(separator: " AND ")
        let filter = conditions.isEmpty ? "" : " WHERE \(conditions)"
        // Counting costs a pass over the table too: only worth it when many ids are asked about.
        let candidates =
            items.count < 2_000
            ? Int.max
            : try await database.query(SQLStatement("SELECT COUNT(*) AS n FROM \(table)\(filter)", binds)).first?.int("n") ?? 0
        if candidates <= limit {
            let wanted = Set(items)
            // The id is read under its own name: `columns` need not hold it.
            let statement = SQLStatement("SELECT \(idColumn) AS wanted_id, \(columns) FROM \(table)\(filter)", binds)
            return try await database.query(statement) { row in
                guard let id = row.digest("wanted_id"), wanted.contains(id) else { return nil }
                return map(row)
            }
        }
        let list =
            switch database.dialect {
            case .sqlite: "SELECT value FROM json_each(?)"
            case .postgres: "SELECT json_array_elements_text(CAST(? AS json))"
            }
        var json = "["
        json.reserveCapacity(items.count * 67 + 2)
        for (index, item) in items.enumerated() {
            if index > 0 { json += "," }
            json += "\"" + item.hex + "\""
        }
        json += "]"
        switch database.dialect {
        case .sqlite:
            // The ids' index gives the rows in the ids' order, which is no order in the table (the ids are digests),
            // and with a reader's 2 MB page cache most rows cost a page read of their own. Read in rowid order
            // instead, the rows of a runner's part, written near one another, share their pages: a 100,000-item
            // drop's no-op rerun read 406,000 pages of its 96,000-page ledger, now 322,000 (the ids' index pages
            // are still read once per part). A condition the indexes answer is checked in the ids' order.
            let inner = indexCondition.map { " AND \($0)" } ?? ""
            let outer = condition.map { " AND \($0)" } ?? ""
            return try await database.query(
                SQLStatement(
                    """
                    SELECT \(columns) FROM \(table)
                    WHERE rowid IN (SELECT rowid FROM \(table) WHERE \(idColumn) IN (\(list))\(inner))\(outer)
                    """, [.text(json)] + binds), map: map)
        case .postgres:
            // PostgreSQL keeps the plain form: its planner chooses how to visit the table (a bitmap heap scan, one
            // of its plans, visits it in table order).
            let both = conditions.isEmpty ? "" : "\(conditions) AND "
            return try await database.query(
                SQLStatement("SELECT \(columns) FROM \(table) WHERE \(both)\(idColumn) IN (\(list))", binds + [.text(json)]), map: map)
        }
    }

    /// `values` with one value per key, the last given, in the order those came: a statement may not upsert a row
    /// twice, and the last is what statement after statement would have left.
    static func lastOfEach<Value, Key: Hashable>(_ values: [Value], by key: (Value) -> Key) -> [Value] {
        var latest: [Key: Int] = [:]
        for (position, value) in values.enumerated() { latest[key(value)] = position }
        return values.indices.filter { latest[key(values[$0])] == $0 }.map { values[$0] }
    }

    static func chunks<Value>(_ values: [Value], size: Int = 400) -> [[Value]] {
        stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min(values.count, $0 + size)]) }
    }
}
