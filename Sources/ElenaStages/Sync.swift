package import ElenaCore
package import Foundation

/// What one `sync` did.
package struct SyncSummary: Sendable, Hashable {
    /// Earnings items read from Fanvue.
    package var fetched: Int
    /// Purchases not seen before.
    package var new: Int
    /// Purchases tied to items / to nothing known.
    package var attributed: Int
    package var unattributed: Int
    /// Subscribers now.
    package var subscribers: Int
    /// Chats read to find the items of purchased messages.
    package var chatsRead: Int
    /// Campaigns whose status changed on Fanvue (moderated, failed, unsent, sent…), one line each.
    package var campaigns: [String] = []
}

/// `elena-run sync`: pulls earnings (cursor pages) and subscribers, ties each purchase to items, and updates the
/// ledger. Idempotent: purchases are keyed by Fanvue's transaction id and item totals are recomputed from the
/// shares, so a second run changes nothing.
package struct Syncer: Sendable {
    package let store: any RunStore
    package let api: any FanvueAudiences
    package let now: @Sendable () -> Date
    /// Progress lines.
    package let progress: @Sendable (String) -> Void

    /// Earnings are read again from this long before the newest one already seen (statuses change while pending).
    package static let overlap: TimeInterval = 7 * 24 * 3600

    /// Creates a syncer.
    package init(
        store: any RunStore, api: any FanvueAudiences, now: @escaping @Sendable () -> Date,
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.api = api
        self.now = now
        self.progress = progress
    }

    /// Every page of one insights list (`earnings` or `spending`), from a week before the newest row seen last time.
    private func readAll(
        _ name: String, account: String,
        _ fetch: (Date?, String?) async throws -> (purchases: [PurchaseRecord], next: String?)
    ) async throws -> (rows: [PurchaseRecord], key: String, previous: Date?) {
        let key = "\(name).newest:\(account)"
        let previous = try await store.syncValue(key).flatMap(Timestamp.parse)
        let since = previous.map { $0.addingTimeInterval(-Self.overlap) }
        var rows: [PurchaseRecord] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await fetch(since, cursor)
            rows += page.purchases
            cursor = page.next
            pages += 1
            if pages % 5 == 0 { progress("read \(rows.count) \(name) rows (\(pages) pages)…") }
        } while cursor != nil
        return (rows, key, previous)
    }

    package func run() async throws -> SyncSummary {
        let account = try await api.account
        let earnings = try await readAll("earnings", account: account, api.earnings)
        // Refunds and chargebacks: negative rows, tied to items like the purchases they reverse.
        let reversals = try await readAll("spending", account: account, api.spending)
        var purchases = earnings.rows + reversals.rows
        var seen: Set<String> = []
        purchases = purchases.filter { seen.insert($0.transactionID).inserted }

        let sends = try await store.allSends()
        let posts = try await store.allPosts()
        var known: Set<String> = []
        for send in sends {
            if let uuid = send.messageUUID { known.insert(uuid) }
            if let id = send.massMessageID { known.insert(id + "|" + send.fan) }
        }
        // Purchased messages the ledger cannot place (a mass message's per-fan copy, a message sent by hand):
        // read that fan's chat and map the message's media to items.
        var messageItems: [String: [Digest]] = [:]
        var chatsRead = 0
        let unknown = purchases.filter { purchase in
            guard let uuid = purchase.messageUUID else { return false }
            return !known.contains(uuid) && !known.contains(uuid + "|" + (purchase.fan ?? ""))
        }
        if !unknown.isEmpty {
            let media = try await store.mediaItems()
            var byFan: [String: [PurchaseRecord]] = [:]
            for purchase in unknown { if let fan = purchase.fan { byFan[fan, default: []].append(purchase) } }
            for (fan, fanPurchases) in byFan.sorted(by: { $0.key < $1.key }) {
                let messages = try await api.messages(fan: fan, limit: 200)
                chatsRead += 1
                for purchase in fanPurchases {
                    guard let uuid = purchase.messageUUID, let message = messages.first(where: { $0.uuid == uuid }) else {
                        continue
                    }
                    let items = message.mediaUUIDs.compactMap { media[$0] }
                    guard !items.isEmpty else { continue }
                    messageItems[uuid] = items
                    // A mass message's copy: the sends it carried now know their message.
                    try await store.linkMassSends(fan: fan, items: items, messageUUID: uuid)
                }
            }
        }
        let result = Attribution.attribute(purchases, sends: sends, posts: posts, messageItems: messageItems)
        let new = try await store.savePurchases(
            purchases, shares: result.shares, purchasedSends: result.purchasedSends.map { ($0.fan, $0.item, $0.at) },
            account: account, at: now())
        progress("reading subscribers…")
        let fans = try await api.subscribers()
        try await store.saveFans(account: account, fans, at: now())
        for read in [earnings, reversals] {
            if let newest = read.rows.map(\.at).max(), read.previous.map({ newest > $0 }) ?? true {
                try await store.setSyncValue(read.key, Timestamp.format(newest), at: now())
            }
        }
        if new > 0 {
            try await store.append([
                EventRecord(
                    kind: "fanvue.sync", drop: nil, message: "synced \(new) new purchase\(new == 1 ? "" : "s") from Fanvue",
                    data: .object(["new": .int(new), "unattributed": .int(result.unattributed.count)]), at: now())
            ])
        }
        // What became of each mass message after its 201: statuses, results, and claims given back when nobody got it.
        var campaigns: [CampaignChange] = []
        if try await !store.campaigns(account: account).isEmpty {
            progress("reading the mass messages…")
            campaigns = try await CampaignTracker(store: store, now: now).refresh(
                account: account, states: try await api.massMessages(), closeAbsent: false)
            if !campaigns.isEmpty {
                try await store.append(
                    campaigns.map { change in
                        EventRecord(
                            kind: "fanvue.campaign", drop: change.campaign.drop, message: change.description,
                            data: .object([
                                "campaign": .string(change.campaign.id), "status": .string(change.campaign.status.rawValue),
                                "previous": .string(change.previous.rawValue), "released": .int(change.released),
                            ]), at: now())
                    })
            }
        }
        let attributed = Set(result.shares.map(\.transactionID)).count
        return SyncSummary(
            fetched: purchases.count, new: new, attributed: attributed, unattributed: result.unattributed.count,
            subscribers: fans.count, chatsRead: chatsRead, campaigns: campaigns.map(\.description))
    }
}
