package import Foundation

/// Where a send came from and what carried it, written with the claim.
package struct SendContext: Sendable, Hashable {
    /// The Fanvue account the message goes out from.
    package var account: String?
    /// The drop whose manifest asked for it, if any.
    package var drop: String?
    /// `manifest` (a drop's `publish.message`) or `send` (the `send` command).
    package var via: String
    /// The list the fan was reached through (a mass message), if any.
    package var listName: String?
    /// The campaign (mass message) the send belongs to, if any.
    package var campaign: String?

    /// Creates a context.
    package init(account: String?, drop: String?, via: String, listName: String? = nil, campaign: String? = nil) {
        self.account = account
        self.drop = drop
        self.via = via
        self.listName = listName
        self.campaign = campaign
    }
}

/// One item sent to one fan, as the ledger holds it.
package struct SendRecord: Sendable, Hashable {
    package var itemID: Digest
    package var fan: String
    /// The one-to-one message that carried it (nil while only claimed, or when it went in a mass message whose
    /// per-fan message is not known yet).
    package var messageUUID: String?
    /// The mass message that carried it, if any.
    package var massMessageID: String?
    package var listName: String?
    /// The price asked, in cents (nil: a free message).
    package var priceCents: Int?
    package var sentAt: Date
    /// When the fan bought it (from `sync`).
    package var purchasedAt: Date?
    package var via: String?
    package var drop: String?
    /// The campaign (mass message) it belongs to, if any.
    package var campaignID: String?

    /// Whether it went out as pay-per-view.
    package var isPPV: Bool { priceCents != nil }
    /// Whether the message is confirmed (not just claimed).
    package var isConfirmed: Bool { messageUUID != nil || massMessageID != nil }

    /// Creates a record.
    package init(
        itemID: Digest, fan: String, messageUUID: String?, massMessageID: String? = nil, listName: String? = nil,
        priceCents: Int?, sentAt: Date, purchasedAt: Date? = nil, via: String? = nil, drop: String? = nil,
        campaignID: String? = nil
    ) {
        self.campaignID = campaignID
        self.itemID = itemID
        self.fan = fan
        self.messageUUID = messageUUID
        self.massMessageID = massMessageID
        self.listName = listName
        self.priceCents = priceCents
        self.sentAt = sentAt
        self.purchasedAt = purchasedAt
        self.via = via
        self.drop = drop
    }
}

/// A feed post and the items it shows.
package struct PostRecord: Sendable, Hashable {
    package var uuid: String?
    package var drop: String?
    package var audience: String
    package var priceCents: Int?
    package var items: [Digest]
    package var createdAt: Date
    /// What makes creating it idempotent (elena-run's posts).
    package var requestKey: String?
    package var account: String?

    /// Creates a record.
    package init(
        uuid: String?, drop: String?, audience: String, priceCents: Int?, items: [Digest], createdAt: Date,
        requestKey: String? = nil, account: String? = nil
    ) {
        self.requestKey = requestKey
        self.account = account
        self.uuid = uuid
        self.drop = drop
        self.audience = audience
        self.priceCents = priceCents
        self.items = items
        self.createdAt = createdAt
    }
}

/// One transaction from Fanvue's earnings (amounts in cents).
package struct PurchaseRecord: Sendable, Hashable {
    /// Fanvue's `transactionOrderId`: the key that makes `sync` idempotent.
    package var transactionID: String
    package var fan: String?
    /// `message`, `post`, `subscription`, `tip`…
    package var source: String
    package var messageUUID: String?
    package var postUUID: String?
    package var grossCents: Int
    package var netCents: Int
    package var currency: String?
    package var status: String?
    package var at: Date

    /// Creates a record.
    package init(
        transactionID: String, fan: String?, source: String, messageUUID: String?, postUUID: String?, grossCents: Int,
        netCents: Int, currency: String?, status: String?, at: Date
    ) {
        self.transactionID = transactionID
        self.fan = fan
        self.source = source
        self.messageUUID = messageUUID
        self.postUUID = postUUID
        self.grossCents = grossCents
        self.netCents = netCents
        self.currency = currency
        self.status = status
        self.at = at
    }
}

/// One item's share of a purchase (a message or post with several items splits its amount).
package struct PurchaseShare: Sendable, Hashable {
    package var transactionID: String
    package var itemID: Digest
    package var grossCents: Int
    package var netCents: Int

    /// Creates a share.
    package init(transactionID: String, itemID: Digest, grossCents: Int, netCents: Int) {
        self.transactionID = transactionID
        self.itemID = itemID
        self.grossCents = grossCents
        self.netCents = netCents
    }
}

/// A fan as the creator's subscriber list shows them.
package struct FanRecord: Sendable, Hashable {
    package var uuid: String
    package var handle: String?
    package var displayName: String?
    package var subscriber: Bool

    /// Creates a record.
    package init(uuid: String, handle: String?, displayName: String?, subscriber: Bool) {
        self.uuid = uuid
        self.handle = handle
        self.displayName = displayName
        self.subscriber = subscriber
    }
}

/// The sales side of the store: sends, posts, purchases and fans. Implemented with `RunStore` by the SQL store.
package protocol LedgerStore: Sendable {
    /// Every send (claimed or confirmed).
    func allSends() async throws -> [SendRecord]
    /// The sends of some items to anyone.
    func sends(items: [Digest]) async throws -> [SendRecord]
    /// Every post with its items.
    func allPosts() async throws -> [PostRecord]
    /// Every purchase synced so far.
    func purchases() async throws -> [PurchaseRecord]
    /// Every purchase's shares per item.
    func purchaseShares() async throws -> [PurchaseShare]
    /// Saves purchases not seen before with their shares, marks the sends they paid for as purchased, and
    /// recomputes each item's times purchased and revenue; returns how many purchases were new. Idempotent.
    func savePurchases(
        _ purchases: [PurchaseRecord], shares: [PurchaseShare], purchasedSends: [(fan: String, item: Digest, at: Date)],
        account: String, at: Date
    ) async throws -> Int
    /// Which item each uploaded media is, by media uuid.
    func mediaItems() async throws -> [String: Digest]
    /// Records the per-fan message of items that went out in a mass message.
    func linkMassSends(fan: String, items: [Digest], messageUUID: String) async throws
    /// Saves the fans as last synced.
    func saveFans(account: String, _ fans: [FanRecord], at: Date) async throws
    /// The fans as last synced (of one account, or of all).
    func fans(account: String?) async throws -> [FanRecord]
    /// A value saved by `sync` (where it stopped).
    func syncValue(_ key: String) async throws -> String?
    /// Saves a value for the next `sync`.
    func setSyncValue(_ key: String, _ value: String, at: Date) async throws
}

/// Mutual exclusion across processes (and machines, on PostgreSQL) for work that must happen once: an upload of
/// some bytes, the sends to one fan, a post. A lock held by a process that died is free again at once.
package protocol WorkLocks: Sendable {
    /// Waits until this process holds the lock named `key`, runs `body`, and releases the lock.
    func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T
    /// Holds every lock in `keys` at once (taken in a fixed order, so two holders never wait on each other).
    func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T
}

extension WorkLocks {
    /// Takes the locks one inside the other, in sorted order.
    package func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        let sorted = Array(Set(keys)).sorted()
        guard let first = sorted.first else { return try await body() }
        let rest = Array(sorted.dropFirst())
        return try await withLock(first) { try await self.withLocks(rest, body) }
    }
}

/// The lock keys for sends: fans hash into a fixed number of stripes, so a message to a list of thousands takes at
/// most this many locks, and two sends to one fan always share one.
package enum SendLocks {
    package static let stripes = 64

    /// The lock key guarding sends to `fan` from `account`.
    package static func key(account: String, fan: String) -> String {
        let stripe = Int(UInt64(Digest.of(fan).hex.prefix(8), radix: 16) ?? 0) % stripes
        return "send:\(account):\(stripe)"
    }
}

/// A fan list on Fanvue: a smart list (ids such as `subscribers`) or a custom list (a uuid).
package struct FanList: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable { case smart, custom }
    package var kind: Kind
    package var id: String
    package var name: String
    package var count: Int?

    /// Creates a list.
    package init(kind: Kind, id: String, name: String, count: Int?) {
        self.kind = kind
        self.id = id
        self.name = name
        self.count = count
    }
}

/// One message in a chat, as far as the ledger needs it.
package struct ChatMessage: Sendable, Hashable {
    package var uuid: String
    package var mediaUUIDs: [String]
    package var priceCents: Int?
    package var purchasedAt: Date?

    /// Creates a message.
    package init(uuid: String, mediaUUIDs: [String], priceCents: Int?, purchasedAt: Date?) {
        self.uuid = uuid
        self.mediaUUIDs = mediaUUIDs
        self.priceCents = priceCents
        self.purchasedAt = purchasedAt
    }
}

/// What `send` and `sync` need from Fanvue beyond publishing. `FanvueClient` implements it; tests run it against
/// the fake server.
package protocol FanvueSales: FanvuePublishing {
    /// The smart and custom lists.
    func lists() async throws -> [FanList]
    /// The fans in a list.
    func members(of list: FanList) async throws -> [String]
    /// Sends one (pay-per-view when priced) message to everyone in a list but the members of the excluded lists;
    /// returns the mass message id and how many fans it reaches.
    func sendMassMessage(_ request: MassMessageRequest) async throws -> (id: String, recipients: Int)
    /// One page of earnings, newest first, from `since` on; `cursor` nil for the first page.
    func earnings(since: Date?, cursor: String?) async throws -> (purchases: [PurchaseRecord], next: String?)
    /// One page of refunds and chargebacks (negative amounts; `source` is `refund` or `chargeback`), like `earnings`.
    func spending(since: Date?, cursor: String?) async throws -> (purchases: [PurchaseRecord], next: String?)
    /// Every subscriber.
    func subscribers() async throws -> [FanRecord]
    /// The newest messages in the chat with a fan (up to `limit`).
    func messages(fan: String, limit: Int) async throws -> [ChatMessage]
}
