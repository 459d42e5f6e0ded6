package import ElenaCore
package import Foundation

/// Review decisions and what a person set per item in review.
extension SQLRunStore: ReviewLedger {
    package func reviews(drop: String) async throws -> [ReviewRecord] {
        // Mapped as the rows stream: a drop of 100,000 items waiting for review has as many rows, and all of them
        // read first were 45 MB more at once than the records made of them.
        try await database.query(
            SQLStatement(
                """
                SELECT item_id, crop_digest, drop_name, decision, file_name, folder, decided_by, decided_at
                FROM reviews WHERE drop_name = ?
                """, [.text(drop)])
        ) { row in
            guard let item = row.digest("item_id"),
                let crop = row.digest("crop_digest"),
                let decision = row.string("decision").flatMap(ReviewDecision.init(rawValue:)),
                let folder = row.string("folder").flatMap(ReviewFolder.init(rawValue:))
            else { return nil }
            return ReviewRecord(
                itemID: item, cropDigest: crop, drop: row.string("drop_name") ?? drop, decision: decision,
                fileName: row.string("file_name") ?? "", folder: folder, decidedBy: row.string("decided_by"),
                decidedAt: row.date("decided_at"))
        }
    }

    package func saveReviews(_ reviews: [ReviewRecord]) async throws {
        try await write(Self.reviewStatements(reviews, at: Date()))
    }

    package func recordReviews(
        _ reviews: [ReviewRecord], items: [(Digest, ItemUpdate)], events: [EventRecord], at date: Date
    ) async throws {
        try await write(
            Self.reviewStatements(reviews, at: Date()) + Self.itemStatements(items, at: date) + Self.eventStatements(events))
    }

    static func reviewStatements(_ reviews: [ReviewRecord], at now: Date) -> [SQLStatement] {
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
        }
    }

    package func setReviewFolder(itemID: Digest, cropDigest: Digest, folder: ReviewFolder) async throws {
        try await write([
            SQLStatement(
                "UPDATE reviews SET folder = ?, updated_at = ? WHERE item_id = ? AND crop_digest = ?",
                [.text(folder.rawValue), .date(Date()), .text(itemID.hex), .text(cropDigest.hex)])
        ])
    }

    // MARK: Crop overrides

    package func lineOverrides(items: [Digest]) async throws -> [Digest: Double] {
        let pairs = try await rows(
            of: items, table: "crop_overrides", columns: "item_id, line_fraction", idColumn: "item_id", limit: items.count
        ) { row in
            row.digest("item_id").flatMap { item in row.double("line_fraction").map { (item, $0) } }
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    package func setLineOverride(itemID: Digest, fraction: Double?, by: String, at date: Date) async throws {
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

    package func publishOverrides(items: [Digest]) async throws -> [Digest: PublishOverride] {
        let pairs = try await rows(
            of: items, table: "publish_overrides", columns: "item_id, vault, price_cents, tags", idColumn: "item_id",
            limit: items.count
        ) { row in
            row.digest("item_id").map { item in
                (
                    item,
                    PublishOverride(
                        vault: row.string("vault"), priceCents: row.int("price_cents"),
                        tags: row.string("tags").map { Self.strings($0) })
                )
            }
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }

    package func setPublishOverride(itemID: Digest, _ override: PublishOverride, by: String, at date: Date) async throws {
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
}
