package import ElenaCore
package import Foundation

/// Uploads, vault folders, posts and sends (the sales side is in SQLRunStore+Ledger.swift).
extension SQLRunStore: FanvueLedger {
    package func upload(contentDigest: Digest, account: String) async throws -> UploadRecord? {
        let rows = try await database.query(
            """
            SELECT content_digest, account, item_id, upload_id, media_uuid, status, part_size, parts, error, created_at,
                   updated_at
            FROM uploads WHERE content_digest = ? AND account = ?
            """, [.text(contentDigest.hex), .text(account)])
        guard let row = rows.first, let item = row.digest("item_id"),
            let status = row.string("status").flatMap(UploadRecord.Status.init(rawValue:))
        else { return nil }
        let parts = (row.string("parts").flatMap { try? JSONDecoder().decode([UploadRecord.Part].self, from: Data($0.utf8)) }) ?? []
        return UploadRecord(
            contentDigest: contentDigest, account: account, itemID: item, uploadID: row.string("upload_id"),
            mediaUUID: row.string("media_uuid"), status: status, partSize: row.int("part_size") ?? 0, parts: parts,
            error: row.string("error"), createdAt: row.date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: row.date("updated_at") ?? Date(timeIntervalSince1970: 0))
    }

    package func saveUpload(_ upload: UploadRecord) async throws {
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

    package func vaultMedia(account: String, folder: String) async throws -> Set<String> {
        let rows = try await database.query(
            "SELECT media_uuid FROM vault_media WHERE account = ? AND folder = ?", [.text(account), .text(folder)])
        return Set(rows.compactMap { $0.string("media_uuid") })
    }

    package func addVaultMedia(account: String, folder: String, mediaUUIDs: [String], at date: Date) async throws {
        try await write(
            mediaUUIDs.map {
                SQLStatement(
                    """
                    INSERT INTO vault_media (account, folder, media_uuid, attached_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (account, folder, media_uuid) DO NOTHING
                    """, [.text(account), .text(folder), .text($0), .date(date)])
            })
    }

    package func post(requestKey: String) async throws -> String? {
        let rows = try await database.query("SELECT post_uuid FROM posts WHERE request_key = ?", [.text(requestKey)])
        guard let row = rows.first else { return nil }
        return row.string("post_uuid") ?? ""
    }

    package func savePost(
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

    package func sends(fan: String) async throws -> [Digest: String?] {
        let rows = try await database.query("SELECT item_id, COALESCE(message_uuid, mass_message_id) AS message_uuid FROM sends WHERE fan_uuid = ?", [.text(fan)])
        var result: [Digest: String?] = [:]
        for row in rows {
            if let item = row.digest("item_id") { result[item] = .some(row.string("message_uuid")) }
        }
        return result
    }

    package func claimSends(
        fan: String, items: [Digest], priceCents: Int?, context: SendContext, at date: Date
    ) async throws -> [Digest] {
        try refuseInDryRun()
        var claimed: [Digest] = []
        for item in items {
            let rows = try await writeQuery(
                SQLStatement(
                    """
                    INSERT INTO sends (item_id, fan_uuid, price_cents, sent_at, account, drop_name, via, list_name,
                        campaign_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (item_id, fan_uuid) DO NOTHING RETURNING item_id
                    """,
                    [
                        .text(item.hex), .text(fan), .int(priceCents), .date(date), .text(context.account),
                        .text(context.drop), .text(context.via), .text(context.listName), .text(context.campaign),
                    ]))
            if !rows.isEmpty { claimed.append(item) }
        }
        return claimed
    }

    package func confirmSends(fan: String, items: [Digest], messageUUID: String?, massMessageID: String?) async throws {
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

    package func releaseSends(fan: String, items: [Digest]) async throws {
        try await write(
            items.map {
                SQLStatement(
                    "DELETE FROM sends WHERE item_id = ? AND fan_uuid = ? AND message_uuid IS NULL AND mass_message_id IS NULL",
                    [.text($0.hex), .text(fan)])
            })
    }

    package func ppvSends(items: [Digest]) async throws -> [Digest: Int] {
        guard !items.isEmpty else { return [:] }
        let rows = try await database.query(
            "SELECT item_id, COUNT(*) AS fans FROM sends WHERE item_id IN (\(Self.placeholders(items.count))) AND price_cents IS NOT NULL GROUP BY item_id",
            items.map { .text($0.hex) })
        var result: [Digest: Int] = [:]
        for row in rows {
            if let item = row.digest("item_id") { result[item] = row.int("fans") ?? 0 }
        }
        return result
    }
}
