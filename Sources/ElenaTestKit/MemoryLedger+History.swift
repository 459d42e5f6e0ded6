package import ElenaCore
package import Foundation

extension MemoryLedger {
    /// What the ledger keeps of Fanvue's own history, one member per table of the schema (migration 0008).
    struct HistoryTables {
        /// `chat_media`, by its primary key.
        var chatMedia: [ChatMediaKey: ChatHistory.Entry] = [:]
        /// `chat_cursors`, by (account, fan).
        var cursors: [FanKey: ChatCursor] = [:]
        /// `external_media`, by (account, media).
        var external: [ExternalKey: ExternalMedia] = [:]
        /// `campaigns`, by id.
        var campaigns: [String: CampaignRecord] = [:]
    }

    /// The primary key of `chat_media`: one media in one message of one chat.
    struct ChatMediaKey: Hashable {
        var account: String
        var fan: String
        var message: String
        var media: String
    }

    /// The primary key of `external_media`.
    struct ExternalKey: Hashable {
        var account: String
        var media: String
    }

    /// One row of `external_media`.
    struct ExternalMedia {
        var item: Digest?
        var sha256: Digest?
        var seenAt: Date
    }

    /// One media → item pair of an account (the SQL's `placedMedia` union: a media may pair with two items when an
    /// upload and an external media disagree, and a join then matches both).
    struct PlacedPair: Hashable {
        var media: String
        var item: Digest
    }

    /// The account's media → item pairs: elena-run's uploads (with a media) and the external media tied to items.
    static func placedPairs(account: String, in state: State) -> Set<PlacedPair> {
        var pairs: Set<PlacedPair> = []
        for upload in state.fanvue.uploads.values where upload.account == account {
            if let media = upload.mediaUUID { pairs.insert(PlacedPair(media: media, item: upload.itemID)) }
        }
        for (key, external) in state.history.external where key.account == account {
            if let item = external.item { pairs.insert(PlacedPair(media: key.media, item: item)) }
        }
        return pairs
    }

    /// A campaign as the database gives it back: the list's kind follows from its id (a uuid is a custom list) and
    /// its count is not kept.
    static func asStored(_ campaign: CampaignRecord) -> CampaignRecord {
        var stored = campaign
        stored.list = FanList(
            kind: UUIDText.isUUID(campaign.list.id) ? .custom : .smart, id: campaign.list.id, name: campaign.list.name,
            count: nil)
        return stored
    }

    /// Throws what `campaigns.mass_message_id UNIQUE` throws when another campaign has `massMessageID`.
    static func requireUniqueMassMessage(_ massMessageID: String?, campaign: String, in state: State) throws {
        guard let massMessageID else { return }
        if state.history.campaigns.values.contains(where: { $0.massMessageID == massMessageID && $0.id != campaign }) {
            throw MemoryLedgerError("UNIQUE constraint failed: campaigns.mass_message_id \(massMessageID)")
        }
    }

    /// Inserts a campaign, or updates the columns the SQL's upsert updates (the list, media, text, price, drop,
    /// path and creation time stay as first saved).
    static func upsert(_ campaign: CampaignRecord, in state: inout State) throws {
        try requireUniqueMassMessage(campaign.massMessageID, campaign: campaign.id, in: state)
        guard var stored = state.history.campaigns[campaign.id] else {
            state.history.campaigns[campaign.id] = asStored(campaign)
            return
        }
        stored.exclusionList = campaign.exclusionList
        stored.excluded = campaign.excluded
        stored.intended = campaign.intended
        stored.massMessageID = campaign.massMessageID
        stored.status = campaign.status
        stored.scheduledAt = campaign.scheduledAt
        stored.recipientCount = campaign.recipientCount
        stored.viewCount = campaign.viewCount
        stored.purchaseCount = campaign.purchaseCount
        stored.revenueCents = campaign.revenueCents
        stored.updatedAt = campaign.updatedAt
        state.history.campaigns[campaign.id] = stored
    }
}

extension MemoryLedger: HistoryLedger {
    package func chatCursors(account: String, fans: [String]) async throws -> [String: ChatCursor] {
        state.withLock { state in
            var result: [String: ChatCursor] = [:]
            for fan in fans {
                if let cursor = state.history.cursors[FanKey(account: account, uuid: fan)] { result[fan] = cursor }
            }
            return result
        }
    }

    /// As the SQL: a media seen before in the same message keeps what it had but takes a purchase time it lacked;
    /// a chat read with no newest message keeps the cursor's, and its read time moves either way.
    package func saveChatHistory(account: String, _ chats: [ChatHistory], at date: Date) async throws {
        state.withLock { state in
            for chat in chats {
                for entry in chat.entries {
                    let key = ChatMediaKey(account: account, fan: chat.fan, message: entry.messageUUID, media: entry.mediaUUID)
                    if var stored = state.history.chatMedia[key] {
                        stored.purchasedAt = entry.purchasedAt ?? stored.purchasedAt
                        state.history.chatMedia[key] = stored
                    } else {
                        state.history.chatMedia[key] = entry
                    }
                }
                let key = FanKey(account: account, uuid: chat.fan)
                let newest = chat.newestMessage ?? state.history.cursors[key]?.newestMessage
                state.history.cursors[key] = ChatCursor(newestMessage: newest, reconciledAt: date)
            }
        }
    }

    /// The account's chat media that no upload (of any account, as the SQL) and no external media of the account
    /// names, by media uuid.
    package func unplacedChatMedia(account: String) async throws -> [String] {
        state.withLock { state in
            let uploaded = Set(state.fanvue.uploads.values.compactMap(\.mediaUUID))
            let media = state.history.chatMedia.keys.filter { key in
                key.account == account && !uploaded.contains(key.media)
                    && state.history.external[ExternalKey(account: account, media: key.media)] == nil
            }.map(\.media)
            return Set(media).sorted()
        }
    }

    /// Which item each media of the account is. When one media pairs with two items (never in practice) the SQL
    /// keeps whichever row comes last; this keeps the smallest item id.
    package func placedMedia(account: String) async throws -> [String: Digest] {
        state.withLock { state in
            var result: [String: Digest] = [:]
            for pair in Self.placedPairs(account: account, in: state) {
                if let kept = result[pair.media], kept.hex < pair.item.hex { continue }
                result[pair.media] = pair.item
            }
            return result
        }
    }

    /// The item that uploaded these bytes (to any account), cropped to them, or is them. When several match (never
    /// in practice) the SQL's union leaves the choice to the database; this takes the smallest id, as SQLite's
    /// union (sorted) does.
    package func item(publishedDigest digest: Digest) async throws -> Digest? {
        state.withLock { state in
            var found = state.fanvue.uploads.values.filter { $0.contentDigest == digest }.map(\.itemID)
            found += state.items.values.filter { $0.croppedDigest == digest || $0.id == digest }.map(\.id)
            return found.min { $0.hex < $1.hex }
        }
    }

    /// As the SQL's upsert: the item and digest a later save lacks stay as they were; the first sight's time stays.
    package func saveExternalMedia(account: String, media: String, sha256: Digest?, item: Digest?, at date: Date) async throws {
        try state.withLock { state in
            if let item { try Self.requireItems([item], in: state, table: "external_media") }
            let key = ExternalKey(account: account, media: media)
            if var stored = state.history.external[key] {
                stored.item = item ?? stored.item
                stored.sha256 = sha256 ?? stored.sha256
                state.history.external[key] = stored
            } else {
                state.history.external[key] = ExternalMedia(item: item, sha256: sha256, seenAt: date)
            }
        }
    }

    /// The SQL's three statements, in its order and with its scope:
    /// 1. A claim (of any account: the SQL does not filter sends by account) with neither message nor mass message,
    ///    whose item the fan's chat in this account shows, is confirmed with the earliest such message; counted as
    ///    `confirmed`.
    /// 2. Every chat media of the account that is a placed item becomes a send unless the fan has the item (earliest
    ///    message first, so the earliest one wins): its message, the price only when at least Fanvue's minimum, its
    ///    time, its purchase, the account, and its path as `via`; no drop, list, mass message or campaign. Counted
    ///    as `recorded`.
    /// 3. A send not yet bought whose message the account's chats show as bought by anyone takes the earliest
    ///    purchase time of that message in its own fan's chat (none: it stays unbought).
    /// Where the SQL leaves ties in time to the database, this breaks them by message, media and item.
    package func wireChatSends(account: String) async throws -> (recorded: Int, confirmed: Int) {
        state.withLock { state in
            let pairs = Self.placedPairs(account: account, in: state)
            var itemsByMedia: [String: [Digest]] = [:]
            for pair in pairs { itemsByMedia[pair.media, default: []].append(pair.item) }
            let chat = state.history.chatMedia.filter { $0.key.account == account }
                .sorted { ($0.value.sentAt, $0.key.message, $0.key.media) < ($1.value.sentAt, $1.key.message, $1.key.media) }

            var confirmed = 0
            for send in state.fanvue.orderedSends where !send.record.isConfirmed {
                let shown = chat.first { row in
                    row.key.fan == send.record.fan && pairs.contains(PlacedPair(media: row.key.media, item: send.record.itemID))
                }
                guard let shown else { continue }
                state.fanvue.sends[SendKey(item: send.record.itemID, fan: send.record.fan)]?.record.messageUUID = shown.key.message
                confirmed += 1
            }

            var recorded = 0
            for row in chat {
                for item in (itemsByMedia[row.key.media] ?? []).sorted(by: { $0.hex < $1.hex }) {
                    let entry = row.value
                    let record = SendRecord(
                        itemID: item, fan: row.key.fan, messageUUID: row.key.message,
                        priceCents: entry.priceCents.flatMap { $0 >= 300 ? $0 : nil }, sentAt: entry.sentAt,
                        purchasedAt: entry.purchasedAt, via: entry.path)
                    if state.fanvue.insert(record, account: account) { recorded += 1 }
                }
            }

            let bought = Set(chat.filter { $0.value.purchasedAt != nil }.map(\.key.message))
            for send in state.fanvue.orderedSends where send.record.purchasedAt == nil {
                guard let message = send.record.messageUUID, bought.contains(message) else { continue }
                let times = chat.filter { $0.key.fan == send.record.fan && $0.key.message == message }.compactMap(\.value.purchasedAt)
                state.fanvue.sends[SendKey(item: send.record.itemID, fan: send.record.fan)]?.record.purchasedAt = times.min()
            }
            return (recorded, confirmed)
        }
    }

    /// Newest first, then by id.
    package func campaigns(account: String?) async throws -> [CampaignRecord] {
        state.withLock { state in
            state.history.campaigns.values.filter { account == nil || $0.account == account }
                .sorted { $0.createdAt != $1.createdAt ? $0.createdAt > $1.createdAt : $0.id < $1.id }
        }
    }

    package func saveCampaign(_ campaign: CampaignRecord) async throws {
        try state.withLock { state in try Self.upsert(campaign, in: &state) }
    }

    /// One transaction, as the SQL: the campaign, then every item to every fan at the campaign's creation time,
    /// with the campaign's id (not the context's) and the context's account, drop, path and list; a fan who has an
    /// item keeps that send. A refused row (unknown item, price under the minimum) leaves nothing written.
    package func claimCampaign(
        _ campaign: CampaignRecord, fans: [String], items: [Digest], priceCents: Int?, context: SendContext
    ) async throws {
        try state.withLock { state in
            if !fans.isEmpty, !items.isEmpty {
                try Self.requirePrice(priceCents, table: "sends")
                try Self.requireItems(items, in: state, table: "sends")
            }
            try Self.upsert(campaign, in: &state)  // throws (a taken mass message id) before it changes anything
            for fan in fans {
                for item in items {
                    let record = SendRecord(
                        itemID: item, fan: fan, messageUUID: nil, listName: context.listName, priceCents: priceCents,
                        sentAt: campaign.createdAt, via: context.via, drop: context.drop, campaignID: campaign.id)
                    _ = state.fanvue.insert(record, account: context.account)
                }
            }
        }
    }

    /// The campaign takes Fanvue's id and status (and the recipients when given); every send of the campaign
    /// without a mass message takes its id (even when no campaign has this id, as the SQL's second statement).
    package func confirmCampaign(id: String, massMessageID: String, status: CampaignStatus, recipients: Int?, at date: Date) async throws {
        try state.withLock { state in
            if var campaign = state.history.campaigns[id] {
                try Self.requireUniqueMassMessage(massMessageID, campaign: id, in: state)
                campaign.massMessageID = massMessageID
                campaign.status = status
                campaign.recipientCount = recipients ?? campaign.recipientCount
                campaign.updatedAt = date
                state.history.campaigns[id] = campaign
            }
            for (key, send) in state.fanvue.sends where send.record.campaignID == id && send.record.massMessageID == nil {
                state.fanvue.sends[key]?.record.massMessageID = massMessageID
            }
        }
    }

    /// A price given (`.some(nil)`: free) goes to the campaign and every send of it, claimed or confirmed; a
    /// price under the minimum is refused when the campaign has sends, and nothing is written.
    package func updateCampaign(id: String, scheduledAt: Date?, priceCents: Int??, text: String?, at date: Date) async throws {
        try state.withLock { state in
            let sends = state.fanvue.sends.filter { $0.value.record.campaignID == id }.map(\.key)
            if let priceCents, !sends.isEmpty { try Self.requirePrice(priceCents, table: "sends") }
            if var campaign = state.history.campaigns[id] {
                if let scheduledAt { campaign.scheduledAt = scheduledAt }
                if let text { campaign.text = text }
                if let priceCents { campaign.priceCents = priceCents }
                campaign.updatedAt = date
                state.history.campaigns[id] = campaign
            }
            if let priceCents {
                for key in sends { state.fanvue.sends[key]?.record.priceCents = priceCents }
            }
        }
    }

    /// As the SQL: first the copies the chats showed of the campaign's media (through Fanvue, unbought, of any
    /// account) in the chats of its fans who did not buy, then the campaign's unbought sends, claimed or confirmed;
    /// returns how many sends went.
    package func releaseCampaignSends(id: String) async throws -> Int {
        state.withLock { state in
            let media = Set(state.history.campaigns[id]?.mediaUUIDs ?? [])
            let fans = Set(state.fanvue.sends.values.filter { $0.record.campaignID == id && $0.record.purchasedAt == nil }.map(\.record.fan))
            state.history.chatMedia = state.history.chatMedia.filter { key, entry in
                !(entry.path == "fanvue" && entry.purchasedAt == nil && media.contains(key.media) && fans.contains(key.fan))
            }
            let released = state.fanvue.sends.filter { $0.value.record.campaignID == id && $0.value.record.purchasedAt == nil }
            for key in released.keys { state.fanvue.sends[key] = nil }
            return released.count
        }
    }
}
