package import ElenaCore
package import Foundation

/// A write the schema would refuse (a unique, check or foreign-key constraint, or the pay-per-view trigger): the
/// in-memory ledger throws it where the database throws, and writes nothing of the call, as a transaction that fails.
package struct MemoryLedgerError: Error, Sendable, CustomStringConvertible {
    /// Which constraint, named as the schema names it.
    package var description: String

    /// Creates an error.
    package init(_ description: String) { self.description = description }
}

extension MemoryLedger {
    /// What reached Fanvue and the sales side, one member per table of the schema (migrations 0004 and 0005).
    struct FanvueTables {
        /// `uploads`, by its primary key.
        var uploads: [UploadKey: UploadRecord] = [:]
        /// `vault_media`: account → folder → media.
        var vault: [String: [String: Set<String>]] = [:]
        /// `posts` with their `post_items`, in id order.
        var posts: [StoredPost] = []
        /// `sends`, by the unique constraint (item, fan); each keeps its id, the order every read returns them in.
        var sends: [SendKey: StoredSend] = [:]
        /// The id the next send gets (as AUTOINCREMENT: ids are never reused, so a claim given back and made again
        /// comes last).
        var nextID = 1
        /// `purchases`, by transaction id.
        var purchases: [String: PurchaseRecord] = [:]
        /// `purchase_items`, by (transaction, item).
        var shares: [ShareKey: PurchaseShare] = [:]
        /// `fans`, by (account, uuid).
        var fans: [FanKey: FanRecord] = [:]
        /// `sync_state`.
        var sync: [String: String] = [:]

        /// Every send in id order (`ORDER BY id`).
        var orderedSends: [StoredSend] { sends.values.sorted { $0.id < $1.id } }

        /// Inserts a send unless the fan has the item already (`ON CONFLICT (item_id, fan_uuid) DO NOTHING`);
        /// returns whether it was inserted.
        mutating func insert(_ record: SendRecord, account: String?) -> Bool {
            let key = SendKey(item: record.itemID, fan: record.fan)
            guard sends[key] == nil else { return false }
            sends[key] = StoredSend(id: nextID, record: record, account: account)
            nextID += 1
            return true
        }
    }

    /// The key of an upload: some bytes, to one account.
    struct UploadKey: Hashable {
        var digest: Digest
        var account: String
    }

    /// The unique constraint of `sends`.
    struct SendKey: Hashable {
        var item: Digest
        var fan: String
    }

    /// One row of `sends`.
    struct StoredSend {
        var id: Int
        var record: SendRecord
        /// The account it went out from (a column `SendRecord` does not carry).
        var account: String?
    }

    /// One row of `posts`, with its items.
    struct StoredPost {
        var id: Int
        var uuid: String?
        var drop: String?
        var audience: String
        var priceCents: Int?
        var text: String?
        var publishAt: Date?
        var createdAt: Date
        var requestKey: String?
        var account: String?
        var allowPPV: Bool
        var items: Set<Digest>
    }

    /// The primary key of `purchase_items`.
    struct ShareKey: Hashable {
        var transaction: String
        var item: Digest
    }

    /// The primary key of `fans`.
    struct FanKey: Hashable {
        var account: String
        var uuid: String
    }

    /// Throws what the foreign key `table.item_id REFERENCES items (id)` throws for an item the ledger lacks.
    static func requireItems(_ items: some Sequence<Digest>, in state: State, table: String) throws {
        for item in items where state.items[item] == nil {
            throw MemoryLedgerError("FOREIGN KEY constraint failed: \(table).item_id \(item.hex) is no item of the ledger")
        }
    }

    /// Throws what `CHECK (price_cents IS NULL OR price_cents >= 300)` throws.
    static func requirePrice(_ price: Int?, table: String) throws {
        if let price, price < 300 {
            throw MemoryLedgerError("CHECK constraint failed: \(table).price_cents \(price) is under Fanvue's minimum of 300")
        }
    }
}

// MARK: Uploads, vault folders, posts and sends

extension MemoryLedger: FanvueLedger {
    package func upload(contentDigest: Digest, account: String) async throws -> UploadRecord? {
        state.withLock { $0.fanvue.uploads[UploadKey(digest: contentDigest, account: account)] }
    }

    /// As the SQL's upsert: a later save keeps the first `createdAt`; a ready upload sets its item's media (and
    /// stamps the item) in the same transaction.
    package func saveUpload(_ upload: UploadRecord) async throws {
        try state.withLock { state in
            try Self.requireItems([upload.itemID], in: state, table: "uploads")
            let key = UploadKey(digest: upload.contentDigest, account: upload.account)
            var saved = upload
            if let earlier = state.fanvue.uploads[key] { saved.createdAt = earlier.createdAt }
            state.fanvue.uploads[key] = saved
            if upload.status == .ready, let media = upload.mediaUUID, var item = state.items[upload.itemID] {
                item.fanvueMediaUUID = media
                item.updatedAt = upload.updatedAt
                state.items[upload.itemID] = item
            }
        }
    }

    package func vaultMedia(account: String, folder: String) async throws -> Set<String> {
        state.withLock { $0.fanvue.vault[account]?[folder] ?? [] }
    }

    package func addVaultMedia(account: String, folder: String, mediaUUIDs: [String], at date: Date) async throws {
        state.withLock { $0.fanvue.vault[account, default: [:]][folder, default: []].formUnion(mediaUUIDs) }
    }

    package func post(requestKey: String) async throws -> String? {
        state.withLock { state in
            guard let post = state.fanvue.posts.first(where: { $0.requestKey == requestKey }) else { return nil }
            return post.uuid ?? ""
        }
    }

    /// As the SQL: a post of a request key seen before takes only the new uuid (nil too: it is cleared) and
    /// `allowPPV`; its other fields stay as first saved. With a uuid, its items are linked, and the schema's
    /// trigger refuses the whole call when the post does not allow pay-per-view items and one of them has a priced
    /// send (even an item linked already: the trigger fires before the conflict is seen).
    package func savePost(
        requestKey: String, account: String, drop: String, audience: String, priceCents: Int?, text: String,
        publishAt: Date?, allowPPV: Bool, uuid: String?, items: [Digest], at date: Date
    ) async throws {
        try state.withLock { state in
            let index = state.fanvue.posts.firstIndex { $0.requestKey == requestKey }
            if let uuid, state.fanvue.posts.contains(where: { $0.uuid == uuid && $0.requestKey != requestKey }) {
                throw MemoryLedgerError("UNIQUE constraint failed: posts.post_uuid \(uuid)")
            }
            try Self.requirePrice(priceCents, table: "posts")
            if uuid != nil {
                try Self.requireItems(items, in: state, table: "post_items")
                if !allowPPV {
                    let priced = Set(state.fanvue.sends.values.filter { $0.record.priceCents != nil }.map(\.record.itemID))
                    if let sold = items.first(where: priced.contains) {
                        throw MemoryLedgerError(
                            "elena-run guard: item \(sold.hex) was sent or sold as pay-per-view and the post does not allow it")
                    }
                }
            }
            var post =
                index.map { state.fanvue.posts[$0] }
                ?? StoredPost(
                    id: (state.fanvue.posts.last?.id ?? 0) + 1, uuid: nil, drop: drop, audience: audience,
                    priceCents: priceCents, text: text, publishAt: publishAt, createdAt: date, requestKey: requestKey,
                    account: account, allowPPV: allowPPV, items: [])
            post.uuid = uuid
            post.allowPPV = allowPPV
            if uuid != nil { post.items.formUnion(items) }
            if let index { state.fanvue.posts[index] = post } else { state.fanvue.posts.append(post) }
        }
    }

    package func sends(fan: String) async throws -> [Digest: String?] {
        state.withLock { state in
            var result: [Digest: String?] = [:]
            for send in state.fanvue.sends.values where send.record.fan == fan {
                result[send.record.itemID] = .some(send.record.messageUUID ?? send.record.massMessageID)
            }
            return result
        }
    }

    /// One insert per item, as the SQL (not one transaction): the items claimed before one the schema refuses
    /// (an unknown item, a price under the minimum) stay claimed.
    package func claimSends(
        fan: String, items: [Digest], priceCents: Int?, context: SendContext, at date: Date
    ) async throws -> [Digest] {
        try state.withLock { state in
            var claimed: [Digest] = []
            for item in items {
                // The check constraint is tested before the conflict is seen, so a refused price throws either way.
                try Self.requirePrice(priceCents, table: "sends")
                try Self.requireItems([item], in: state, table: "sends")
                guard state.fanvue.sends[SendKey(item: item, fan: fan)] == nil else { continue }
                let record = SendRecord(
                    itemID: item, fan: fan, messageUUID: nil, listName: context.listName, priceCents: priceCents,
                    sentAt: date, via: context.via, drop: context.drop, campaignID: context.campaign)
                if state.fanvue.insert(record, account: context.account) { claimed.append(item) }
            }
            return claimed
        }
    }

    /// Sets what is given and keeps the rest (`COALESCE`), confirmed or not.
    package func confirmSends(fan: String, items: [Digest], messageUUID: String?, massMessageID: String?) async throws {
        state.withLock { state in
            for item in items {
                let key = SendKey(item: item, fan: fan)
                guard var send = state.fanvue.sends[key] else { continue }
                send.record.messageUUID = messageUUID ?? send.record.messageUUID
                send.record.massMessageID = massMessageID ?? send.record.massMessageID
                state.fanvue.sends[key] = send
            }
        }
    }

    package func releaseSends(fan: String, items: [Digest]) async throws {
        state.withLock { state in
            for item in items {
                let key = SendKey(item: item, fan: fan)
                if let send = state.fanvue.sends[key], !send.record.isConfirmed { state.fanvue.sends[key] = nil }
            }
        }
    }

    package func ppvSends(items: [Digest]) async throws -> [Digest: Int] {
        let wanted = Set(items)
        return state.withLock { state in
            var result: [Digest: Int] = [:]
            for send in state.fanvue.sends.values where wanted.contains(send.record.itemID) && send.record.isPPV {
                result[send.record.itemID, default: 0] += 1
            }
            return result
        }
    }
}

// MARK: The sales side: sends, posts, purchases, fans and where sync stopped

extension MemoryLedger {
    package func allSends() async throws -> [SendRecord] { state.withLock { $0.fanvue.orderedSends.map(\.record) } }

    /// As the SQL, a chunk of 400 items at a time, each chunk's sends in id order (more than 400 items are not in
    /// one id order, and an item named in two chunks comes twice).
    package func sends(items: [Digest]) async throws -> [SendRecord] {
        let ordered = state.withLock { $0.fanvue.orderedSends.map(\.record) }
        var result: [SendRecord] = []
        for start in stride(from: 0, to: items.count, by: 400) {
            let chunk = Set(items[start..<min(items.count, start + 400)])
            result += ordered.filter { chunk.contains($0.itemID) }
        }
        return result
    }

    package func allPosts() async throws -> [PostRecord] {
        state.withLock { state in
            state.fanvue.posts.map { post in
                PostRecord(
                    uuid: post.uuid, drop: post.drop, audience: post.audience, priceCents: post.priceCents,
                    items: post.items.sorted { $0.hex < $1.hex }, createdAt: post.createdAt, requestKey: post.requestKey,
                    account: post.account)
            }
        }
    }

    package func purchases() async throws -> [PurchaseRecord] {
        state.withLock { state in
            state.fanvue.purchases.values.sorted { ($0.at, $0.transactionID) < ($1.at, $1.transactionID) }
        }
    }

    package func purchaseShares() async throws -> [PurchaseShare] {
        state.withLock { state in
            state.fanvue.shares.values.sorted { ($0.transactionID, $0.itemID.hex) < ($1.transactionID, $1.itemID.hex) }
        }
    }

    /// As the SQL: a purchase seen before takes only the new status (nil too); shares seen before stay; a send is
    /// marked bought once; every item with a share gets its totals recomputed from all its shares (times purchased:
    /// the shares with a positive gross; revenue: the sum of the net, refunds included). Shares of a purchase or
    /// item the ledger lacks are refused, and nothing of the call is written.
    package func savePurchases(
        _ purchases: [PurchaseRecord], shares: [PurchaseShare], purchasedSends: [(fan: String, item: Digest, at: Date)],
        account: String, at date: Date
    ) async throws -> Int {
        try state.withLock { state in
            let known = Set(purchases.map(\.transactionID).filter { state.fanvue.purchases[$0] != nil })
            let transactions = Set(state.fanvue.purchases.keys).union(purchases.map(\.transactionID))
            for share in shares where !transactions.contains(share.transactionID) {
                throw MemoryLedgerError("FOREIGN KEY constraint failed: purchase_items.transaction_id \(share.transactionID)")
            }
            try Self.requireItems(shares.map(\.itemID), in: state, table: "purchase_items")
            for purchase in purchases {
                if state.fanvue.purchases[purchase.transactionID] != nil {
                    state.fanvue.purchases[purchase.transactionID]?.status = purchase.status
                } else {
                    state.fanvue.purchases[purchase.transactionID] = purchase
                }
            }
            for share in shares {
                let key = ShareKey(transaction: share.transactionID, item: share.itemID)
                if state.fanvue.shares[key] == nil { state.fanvue.shares[key] = share }
            }
            for bought in purchasedSends {
                let key = SendKey(item: bought.item, fan: bought.fan)
                if state.fanvue.sends[key] != nil, state.fanvue.sends[key]?.record.purchasedAt == nil {
                    state.fanvue.sends[key]?.record.purchasedAt = bought.at
                }
            }
            let byItem = Dictionary(grouping: state.fanvue.shares.values, by: \.itemID)
            for (item, itemShares) in byItem {
                state.items[item]?.timesPurchased = itemShares.filter { $0.grossCents > 0 }.count
                state.items[item]?.revenueCents = itemShares.reduce(0) { $0 + $1.netCents }
            }
            return purchases.filter { !known.contains($0.transactionID) }.count
        }
    }

    /// Every upload's media, whatever the account.
    package func mediaItems() async throws -> [String: Digest] {
        state.withLock { state in
            var result: [String: Digest] = [:]
            for upload in state.fanvue.uploads.values {
                if let media = upload.mediaUUID { result[media] = upload.itemID }
            }
            return result
        }
    }

    package func linkMassSends(fan: String, items: [Digest], messageUUID: String) async throws {
        state.withLock { state in
            for item in items {
                let key = SendKey(item: item, fan: fan)
                if state.fanvue.sends[key] != nil, state.fanvue.sends[key]?.record.messageUUID == nil {
                    state.fanvue.sends[key]?.record.messageUUID = messageUUID
                }
            }
        }
    }

    /// Every fan of the account is no longer a subscriber, then those given are saved (a fan not given is kept).
    package func saveFans(account: String, _ fans: [FanRecord], at date: Date) async throws {
        state.withLock { state in
            for key in state.fanvue.fans.keys where key.account == account { state.fanvue.fans[key]?.subscriber = false }
            for fan in fans { state.fanvue.fans[FanKey(account: account, uuid: fan.uuid)] = fan }
        }
    }

    /// By uuid (of all accounts: a fan of two accounts comes twice).
    package func fans(account: String?) async throws -> [FanRecord] {
        state.withLock { state in
            state.fanvue.fans.filter { account == nil || $0.key.account == account }
                .sorted { ($0.key.uuid, $0.key.account) < ($1.key.uuid, $1.key.account) }.map(\.value)
        }
    }

    package func syncValue(_ key: String) async throws -> String? { state.withLock { $0.fanvue.sync[key] } }

    package func setSyncValue(_ key: String, _ value: String, at date: Date) async throws {
        state.withLock { $0.fanvue.sync[key] = value }
    }
}
