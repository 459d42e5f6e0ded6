package import ElenaCore
package import Foundation

/// What the ledger keeps of Fanvue's own history: chats as read, media uploaded outside elena-run, campaigns.
extension SQLRunStore: HistoryLedger {
    package func chatCursors(account: String, fans: [String]) async throws -> [String: ChatCursor] {
        var result: [String: ChatCursor] = [:]
        for chunk in Self.chunks(fans) {
            let rows = try await database.query(
                """
                SELECT fan_uuid, newest_message, reconciled_at FROM chat_cursors
                WHERE account = ? AND fan_uuid IN (\(Self.placeholders(chunk.count)))
                """, [.text(account)] + chunk.map { .text($0) })
            for row in rows {
                guard let fan = row.string("fan_uuid"), let at = row.date("reconciled_at") else { continue }
                result[fan] = ChatCursor(newestMessage: row.string("newest_message"), reconciledAt: at)
            }
        }
        return result
    }

    package func saveChatHistory(account: String, _ chats: [ChatHistory], at date: Date) async throws {
        var statements: [SQLStatement] = []
        for chat in chats {
            for entry in chat.entries {
                statements.append(
                    SQLStatement(
                        """
                        INSERT INTO chat_media (account, fan_uuid, message_uuid, media_uuid, path, price_cents, sent_at,
                            purchased_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (account, fan_uuid, message_uuid, media_uuid)
                        DO UPDATE SET purchased_at = COALESCE(excluded.purchased_at, chat_media.purchased_at)
                        """,
                        [
                            .text(account), .text(chat.fan), .text(entry.messageUUID), .text(entry.mediaUUID),
                            .text(entry.path), .int(entry.priceCents), .date(entry.sentAt), .date(entry.purchasedAt),
                        ]))
            }
            statements.append(
                SQLStatement(
                    """
                    INSERT INTO chat_cursors (account, fan_uuid, newest_message, reconciled_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (account, fan_uuid) DO UPDATE SET
                        newest_message = COALESCE(excluded.newest_message, chat_cursors.newest_message),
                        reconciled_at = excluded.reconciled_at
                    """, [.text(account), .text(chat.fan), .text(chat.newestMessage), .date(date)]))
        }
        guard !statements.isEmpty else { return }
        try await write(statements)
    }

    package func unplacedChatMedia(account: String) async throws -> [String] {
        try await database.query(
            """
            SELECT DISTINCT media_uuid FROM chat_media c WHERE c.account = ?
                AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.media_uuid = c.media_uuid)
                AND NOT EXISTS (SELECT 1 FROM external_media e WHERE e.account = c.account AND e.media_uuid = c.media_uuid)
            ORDER BY media_uuid
            """, [.text(account)]
        ).compactMap { $0.string("media_uuid") }
    }

    package func placedMedia(account: String) async throws -> [String: Digest] {
        var result: [String: Digest] = [:]
        for row in try await database.query("SELECT media_uuid, item_id FROM \(Self.placedMedia) p", [.text(account), .text(account)]) {
            if let media = row.string("media_uuid"), let item = row.digest("item_id") {
                result[media] = item
            }
        }
        return result
    }

    package func item(publishedDigest digest: Digest) async throws -> Digest? {
        // The bytes elena-run uploaded, a crop as it left the machine, or the original itself.
        try await database.query(
            """
            SELECT item_id FROM uploads WHERE content_digest = ?
            UNION SELECT id AS item_id FROM items WHERE cropped_digest = ? OR id = ?
            """, [.text(digest.hex), .text(digest.hex), .text(digest.hex)]
        ).first?.digest("item_id")
    }

    package func saveExternalMedia(account: String, media: String, sha256: Digest?, item: Digest?, at date: Date) async throws {
        try await write([
            SQLStatement(
                """
                INSERT INTO external_media (account, media_uuid, item_id, sha256, seen_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (account, media_uuid) DO UPDATE SET item_id = COALESCE(excluded.item_id, external_media.item_id),
                    sha256 = COALESCE(excluded.sha256, external_media.sha256)
                """, [.text(account), .text(media), .text(item?.hex), .text(sha256?.hex), .date(date)])
        ])
    }

    /// The media → item pairs of an account: elena-run's uploads and the external media tied to items.
    static let placedMedia = """
        (SELECT media_uuid, item_id FROM uploads WHERE account = ? AND media_uuid IS NOT NULL
         UNION SELECT media_uuid, item_id FROM external_media WHERE account = ? AND item_id IS NOT NULL)
        """

    package func wireChatSends(account: String) async throws -> (recorded: Int, confirmed: Int) {
        let binds: [SQLValue] = [.text(account), .text(account), .text(account)]
        // A claim the chat shows went out (a run died before it heard back): confirmed with the message that did.
        let confirmed = try await writeQuery(
            SQLStatement(
                """
                UPDATE sends SET message_uuid = (
                    SELECT c.message_uuid FROM chat_media c JOIN \(Self.placedMedia) p ON p.media_uuid = c.media_uuid
                    WHERE c.account = ? AND c.fan_uuid = sends.fan_uuid AND p.item_id = sends.item_id
                    ORDER BY c.sent_at LIMIT 1)
                WHERE message_uuid IS NULL AND mass_message_id IS NULL AND EXISTS (
                    SELECT 1 FROM chat_media c JOIN \(Self.placedMedia) p ON p.media_uuid = c.media_uuid
                    WHERE c.account = ? AND c.fan_uuid = sends.fan_uuid AND p.item_id = sends.item_id)
                RETURNING item_id
                """, binds + binds)
        ).count
        // A send the ledger never made: recorded with its path, so every guard counts it.
        let recorded = try await writeQuery(
            SQLStatement(
                """
                INSERT INTO sends (item_id, fan_uuid, message_uuid, price_cents, sent_at, purchased_at, account, via)
                SELECT p.item_id, c.fan_uuid, c.message_uuid,
                    CASE WHEN c.price_cents >= 300 THEN c.price_cents END, c.sent_at, c.purchased_at, c.account, c.path
                FROM chat_media c JOIN \(Self.placedMedia) p ON p.media_uuid = c.media_uuid
                WHERE c.account = ?
                ORDER BY c.sent_at
                ON CONFLICT (item_id, fan_uuid) DO NOTHING
                RETURNING item_id
                """, binds)
        ).count
        // What a chat shows as bought marks the send bought (sync's earnings say the same, later).
        try await write([
            SQLStatement(
                """
                UPDATE sends SET purchased_at = (
                    SELECT MIN(c.purchased_at) FROM chat_media c WHERE c.account = ? AND c.fan_uuid = sends.fan_uuid
                        AND c.message_uuid = sends.message_uuid)
                WHERE purchased_at IS NULL AND message_uuid IN (
                    SELECT message_uuid FROM chat_media WHERE account = ? AND purchased_at IS NOT NULL)
                """, [.text(account), .text(account)])
        ])
        return (recorded, confirmed)
    }

    static let campaignColumns = """
        id, account, list_id, list_name, exclusion_list, excluded, intended, media_uuids, text, price_cents, scheduled_at,
        mass_message_id, status, recipient_count, view_count, purchase_count, revenue_cents, drop_name, via, created_at,
        updated_at
        """

    package func campaigns(account: String?) async throws -> [CampaignRecord] {
        let select = "SELECT \(Self.campaignColumns) FROM campaigns"
        let rows =
            if let account {
                try await database.query(select + " WHERE account = ? ORDER BY created_at DESC, id", [.text(account)])
            } else {
                try await database.query(select + " ORDER BY created_at DESC, id")
            }
        return rows.compactMap { row in
            guard let id = row.string("id"), let account = row.string("account"), let listID = row.string("list_id"),
                let created = row.date("created_at")
            else { return nil }
            let media = (row.string("media_uuids").flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []).compactMap(\.stringValue)
            let listName = row.string("list_name") ?? listID
            return CampaignRecord(
                id: id, account: account,
                list: FanList(kind: UUIDText.isUUID(listID) ? .custom : .smart, id: listID, name: listName, count: nil),
                exclusionList: row.string("exclusion_list"), excluded: row.int("excluded") ?? 0,
                intended: row.int("intended") ?? 0, mediaUUIDs: media, text: row.string("text"),
                priceCents: row.int("price_cents"), scheduledAt: row.date("scheduled_at"),
                massMessageID: row.string("mass_message_id"), status: CampaignStatus(rawValue: row.string("status") ?? CampaignStatus.pending.rawValue),
                recipientCount: row.int("recipient_count"), viewCount: row.int("view_count"),
                purchaseCount: row.int("purchase_count"), revenueCents: row.int("revenue_cents"),
                drop: row.string("drop_name"), via: row.string("via") ?? "send", createdAt: created,
                updatedAt: row.date("updated_at") ?? created)
        }
    }

    package func saveCampaign(_ campaign: CampaignRecord) async throws {
        try await write([Self.campaignStatement(campaign)])
    }

    static func campaignStatement(_ campaign: CampaignRecord) -> SQLStatement {
            SQLStatement(
                """
                INSERT INTO campaigns (\(Self.campaignColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET exclusion_list = excluded.exclusion_list, excluded = excluded.excluded,
                    intended = excluded.intended, mass_message_id = excluded.mass_message_id, status = excluded.status,
                    scheduled_at = excluded.scheduled_at, recipient_count = excluded.recipient_count,
                    view_count = excluded.view_count, purchase_count = excluded.purchase_count,
                    revenue_cents = excluded.revenue_cents, updated_at = excluded.updated_at
                """,
                [
                    .text(campaign.id), .text(campaign.account), .text(campaign.list.id), .text(campaign.list.name),
                    .text(campaign.exclusionList), .int(campaign.excluded), .int(campaign.intended),
                    .text(Self.json(campaign.mediaUUIDs)), .text(campaign.text), .int(campaign.priceCents),
                    .date(campaign.scheduledAt), .text(campaign.massMessageID), .text(campaign.status.rawValue),
                    .int(campaign.recipientCount), .int(campaign.viewCount), .int(campaign.purchaseCount),
                    .int(campaign.revenueCents), .text(campaign.drop), .text(campaign.via), .date(campaign.createdAt),
                    .date(campaign.updatedAt),
                ])
    }

    package func claimCampaign(
        _ campaign: CampaignRecord, fans: [String], items: [Digest], priceCents: Int?, context: SendContext
    ) async throws {
        var statements = [Self.campaignStatement(campaign)]
        // Many rows per statement: a list of thousands of fans is claimed in a few statements, not one per send.
        let pairs = fans.flatMap { fan in items.map { (fan, $0) } }
        for chunk in Self.chunks(pairs, size: 100) {
            var binds: [SQLValue] = []
            for (fan, item) in chunk {
                binds += [
                    .text(item.hex), .text(fan), .int(priceCents), .date(campaign.createdAt), .text(context.account),
                    .text(context.drop), .text(context.via), .text(context.listName), .text(campaign.id),
                ]
            }
            statements.append(
                SQLStatement(
                    """
                    INSERT INTO sends (item_id, fan_uuid, price_cents, sent_at, account, drop_name, via, list_name,
                        campaign_id)
                    VALUES \(Self.valueRows(chunk.count, width: 9))
                    ON CONFLICT (item_id, fan_uuid) DO NOTHING
                    """, binds))
        }
        try await write(statements)
    }

    package func confirmCampaign(id: String, massMessageID: String, status: CampaignStatus, recipients: Int?, at date: Date) async throws {
        try await write([
            SQLStatement(
                """
                UPDATE campaigns SET mass_message_id = ?, status = ?, recipient_count = COALESCE(?, recipient_count),
                    updated_at = ?
                WHERE id = ?
                """, [.text(massMessageID), .text(status.rawValue), .int(recipients), .date(date), .text(id)]),
            SQLStatement(
                "UPDATE sends SET mass_message_id = ? WHERE campaign_id = ? AND mass_message_id IS NULL",
                [.text(massMessageID), .text(id)]),
        ])
    }

    package func updateCampaign(id: String, scheduledAt: Date?, priceCents: Int??, text: String?, at date: Date) async throws {
        var statements: [SQLStatement] = []
        if let scheduledAt {
            statements.append(SQLStatement("UPDATE campaigns SET scheduled_at = ? WHERE id = ?", [.date(scheduledAt), .text(id)]))
        }
        if let text { statements.append(SQLStatement("UPDATE campaigns SET text = ? WHERE id = ?", [.text(text), .text(id)])) }
        if let priceCents {
            statements.append(SQLStatement("UPDATE campaigns SET price_cents = ? WHERE id = ?", [.int(priceCents), .text(id)]))
            statements.append(SQLStatement("UPDATE sends SET price_cents = ? WHERE campaign_id = ?", [.int(priceCents), .text(id)]))
        }
        statements.append(SQLStatement("UPDATE campaigns SET updated_at = ? WHERE id = ?", [.date(date), .text(id)]))
        try await write(statements)
    }

    package func releaseCampaignSends(id: String) async throws -> Int {
        // The copies the chats showed (read before Fanvue took them back) go too, or reconcile would record them again.
        let media =
            switch database.dialect {
            case .sqlite: "SELECT value FROM json_each((SELECT media_uuids FROM campaigns WHERE id = ?))"
            case .postgres: "SELECT json_array_elements_text(CAST((SELECT media_uuids FROM campaigns WHERE id = ?) AS json))"
            }
        try await write([
            SQLStatement(
                """
                DELETE FROM chat_media WHERE path = 'fanvue' AND purchased_at IS NULL AND media_uuid IN (\(media))
                    AND fan_uuid IN (SELECT fan_uuid FROM sends WHERE campaign_id = ? AND purchased_at IS NULL)
                """, [.text(id), .text(id)])
        ])
        let released = try await writeQuery(
            SQLStatement(
                "DELETE FROM sends WHERE campaign_id = ? AND purchased_at IS NULL RETURNING item_id", [.text(id)])
        ).count
        return released
    }
}
