import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// What reached Fanvue and the sales side (`FanvueLedger`, `LedgerStore`): the same exact values in memory, on a
/// SQLite file and on PostgreSQL, for the methods `LedgerStoreTests` does not cover.
@Suite struct FanvueLedgerContractTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)
    static let fans = (1...3).map { "7c1b1c1e-1111-4aaa-8bbb-00000000000\($0)" }
    static let context = SendContext(account: "acct", drop: "d1", via: "send")

    /// Items of drop d1, one per name, in the ledger.
    func items(_ store: any RunStore, _ names: [String]) async throws -> [Digest] {
        let records = names.map { name in
            ItemRecord(
                id: Digest.of(name), drop: "d1", originalName: name, originalPath: "/src/\(name)", rawPath: nil,
                status: .approved, tags: [], priceCents: 900, createdAt: Self.now, updatedAt: Self.now)
        }
        try await store.upsertItems(records, sourcePaths: [:])
        return records.map(\.id)
    }

    /// An upload is keyed by its bytes and account; saving it again keeps its first creation time; once ready, its
    /// item knows its media (stamped with the upload's time), and `mediaItems` names the item.
    @Test(arguments: LedgerKind.available)
    func uploadsAreKeyedByBytesAndAccountAndAReadyOneNamesItsMedia(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png"])
            let bytes = Digest.of("crop bytes")
            var upload = UploadRecord(
                contentDigest: bytes, account: "acct", itemID: ids[0], uploadID: "up-1", mediaUUID: "m-1", status: .created,
                partSize: 5_242_880, parts: [], createdAt: Self.now, updatedAt: Self.now)
            try await store.saveUpload(upload)
            #expect(try await store.upload(contentDigest: bytes, account: "acct") == upload)
            #expect(try await store.upload(contentDigest: bytes, account: "other") == nil)
            #expect(try await store.mediaItems() == ["m-1": ids[0]], "a media uuid is known from the session on")
            #expect(try await store.items(drop: nil).first?.fanvueMediaUUID == nil, "not ready: the item has no media yet")

            var ready = upload
            ready.status = .ready
            ready.parts = [UploadRecord.Part(number: 1, etag: "e-1", size: 1234)]
            ready.createdAt = Self.now.addingTimeInterval(100)
            ready.updatedAt = Self.now.addingTimeInterval(60)
            try await store.saveUpload(ready)
            upload = ready
            upload.createdAt = Self.now
            #expect(try await store.upload(contentDigest: bytes, account: "acct") == upload, "the first creation time stays")
            let item = try #require(try await store.items(drop: nil).first)
            #expect(item.fanvueMediaUUID == "m-1")
            #expect(item.updatedAt == Self.now.addingTimeInterval(60))

            // An upload of an item the ledger lacks is refused (the foreign key).
            var stray = upload
            stray.contentDigest = Digest.of("other bytes")
            stray.itemID = Digest.of("no such item")
            await #expect(throws: (any Error).self) { try await store.saveUpload(stray) }
            #expect(try await store.upload(contentDigest: stray.contentDigest, account: "acct") == nil)
        }
    }

    @Test(arguments: LedgerKind.available)
    func vaultMediaIsKeptPerAccountAndFolder(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            try await store.addVaultMedia(account: "acct", folder: "ppv", mediaUUIDs: ["m-1", "m-2"], at: Self.now)
            try await store.addVaultMedia(account: "acct", folder: "ppv", mediaUUIDs: ["m-2", "m-3"], at: Self.now)
            #expect(try await store.vaultMedia(account: "acct", folder: "ppv") == ["m-1", "m-2", "m-3"])
            #expect(try await store.vaultMedia(account: "acct", folder: "vip").isEmpty)
            #expect(try await store.vaultMedia(account: "other", folder: "ppv").isEmpty)
        }
    }

    /// A post is recorded as started (no uuid: `""`), then with its uuid and items; saving it again changes only the
    /// uuid and whether pay-per-view items are allowed. Two request keys cannot record one Fanvue post.
    @Test(arguments: LedgerKind.available)
    func aPostIsStartedThenConfirmedUnderItsRequestKey(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            #expect(try await store.post(requestKey: "k") == nil)
            try await store.savePost(
                requestKey: "k", account: "acct", drop: "d1", audience: "subscribers", priceCents: 1500, text: "t",
                publishAt: nil, allowPPV: false, uuid: nil, items: ids, at: Self.now)
            #expect(try await store.post(requestKey: "k") == "")
            let started = PostRecord(
                uuid: nil, drop: "d1", audience: "subscribers", priceCents: 1500, items: [], createdAt: Self.now,
                requestKey: "k", account: "acct")
            #expect(try await store.allPosts() == [started], "no items before the post exists")

            try await store.savePost(
                requestKey: "k", account: "acct", drop: "d1", audience: "followers", priceCents: 1500, text: "t",
                publishAt: nil, allowPPV: false, uuid: "p-1", items: ids.reversed(), at: Self.now.addingTimeInterval(60))
            #expect(try await store.post(requestKey: "k") == "p-1")
            var confirmed = started
            confirmed.uuid = "p-1"
            confirmed.items = ids.sorted { $0.hex < $1.hex }
            #expect(try await store.allPosts() == [confirmed], "the audience and time stay as first recorded")

            await #expect(throws: (any Error).self, "post_uuid is unique") {
                try await store.savePost(
                    requestKey: "k2", account: "acct", drop: "d1", audience: "subscribers", priceCents: nil, text: "t",
                    publishAt: nil, allowPPV: false, uuid: "p-1", items: [], at: Self.now)
            }
            #expect(try await store.allPosts() == [confirmed])
        }
    }

    @Test(arguments: LedgerKind.available)
    func payPerViewSendsCountTheFansOfPricedSendsOnly(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png", "c.png"])
            _ = try await store.claimSends(fan: Self.fans[0], items: [ids[0], ids[1]], priceCents: 900, context: Self.context, at: Self.now)
            _ = try await store.claimSends(fan: Self.fans[1], items: [ids[0]], priceCents: 900, context: Self.context, at: Self.now)
            _ = try await store.claimSends(fan: Self.fans[2], items: [ids[2]], priceCents: nil, context: Self.context, at: Self.now)
            #expect(try await store.ppvSends(items: ids) == [ids[0]: 2, ids[1]: 1])
            #expect(try await store.ppvSends(items: [ids[2]]).isEmpty, "a free message is no pay-per-view")
            #expect(try await store.ppvSends(items: []).isEmpty)
        }
    }

    /// The schema refuses a send of an item the ledger lacks and a price under Fanvue's minimum. Each item is its
    /// own insert: the items claimed before the refused one stay claimed.
    @Test(arguments: LedgerKind.available)
    func aSendTheSchemaRefusesIsRefused(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png"])
            let unknown = Digest.of("no such item")
            await #expect(throws: (any Error).self) {
                _ = try await store.claimSends(fan: Self.fans[0], items: [ids[0]], priceCents: 299, context: Self.context, at: Self.now)
            }
            #expect(try await store.allSends().isEmpty)
            await #expect(throws: (any Error).self) {
                _ = try await store.claimSends(
                    fan: Self.fans[0], items: [ids[0], unknown], priceCents: 900, context: Self.context, at: Self.now)
            }
            #expect(try await store.allSends().map(\.itemID) == [ids[0]])
        }
    }

    /// Confirming sets what it is given and keeps the rest; a mass message's per-fan message fills only a send that
    /// has none; a send confirmed by a mass message is not given back.
    @Test(arguments: LedgerKind.available)
    func confirmingKeepsWhatItIsNotGivenAndMassSendsAreLinkedOnce(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            let fan = Self.fans[0]
            _ = try await store.claimSends(fan: fan, items: ids, priceCents: 900, context: Self.context, at: Self.now)
            try await store.confirmSends(fan: fan, items: ids, messageUUID: nil, massMessageID: "mm-1")
            #expect(try await store.sends(fan: fan) == [ids[0]: "mm-1", ids[1]: "mm-1"])
            try await store.releaseSends(fan: fan, items: ids)
            #expect(try await store.allSends().count == 2, "confirmed by the mass message: kept")

            try await store.linkMassSends(fan: fan, items: [ids[0]], messageUUID: "m-9")
            try await store.linkMassSends(fan: fan, items: [ids[0]], messageUUID: "m-10")
            try await store.confirmSends(fan: fan, items: [ids[1]], messageUUID: "m-2", massMessageID: nil)
            let sends = try await store.allSends()
            #expect(sends.map(\.messageUUID) == ["m-9", "m-2"])
            #expect(sends.map(\.massMessageID) == ["mm-1", "mm-1"])
            #expect(try await store.sends(fan: fan) == [ids[0]: "m-9", ids[1]: "m-2"], "the message before the mass message")
        }
    }

    /// Every read of sends is in the order they were claimed; a claim given back and made again comes last.
    @Test(arguments: LedgerKind.available)
    func sendsComeInTheOrderTheyWereClaimed(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png", "c.png"])
            _ = try await store.claimSends(fan: Self.fans[0], items: [ids[1]], priceCents: 900, context: Self.context, at: Self.now)
            _ = try await store.claimSends(fan: Self.fans[1], items: [ids[0]], priceCents: 900, context: Self.context, at: Self.now)
            _ = try await store.claimSends(fan: Self.fans[0], items: [ids[0]], priceCents: 900, context: Self.context, at: Self.now)
            _ = try await store.claimSends(fan: Self.fans[2], items: [ids[2]], priceCents: 900, context: Self.context, at: Self.now)
            try await store.releaseSends(fan: Self.fans[0], items: [ids[1]])
            _ = try await store.claimSends(fan: Self.fans[0], items: [ids[1]], priceCents: 900, context: Self.context, at: Self.now)
            func pairs(_ sends: [SendRecord]) -> [String] { sends.map { "\($0.itemID.hex.prefix(6))>\($0.fan.suffix(1))" } }
            let name = { (index: Int, fan: Int) in "\(ids[index].hex.prefix(6))>\(fan + 1)" }
            #expect(pairs(try await store.allSends()) == [name(0, 1), name(0, 0), name(2, 2), name(1, 0)])
            #expect(pairs(try await store.sends(items: [ids[1], ids[0]])) == [name(0, 1), name(0, 0), name(1, 0)])
            #expect(try await store.sends(items: []).isEmpty)
        }
    }

    /// Fans are kept per account: a sync marks the account's fans it no longer lists as not subscribed, and leaves
    /// other accounts alone.
    @Test(arguments: LedgerKind.available)
    func fansAreKeptPerAccount(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let (first, second) = (Self.fans[0], Self.fans[1])
            try await store.saveFans(
                account: "a",
                [
                    FanRecord(uuid: second, handle: "two", displayName: "Two", subscriber: true),
                    FanRecord(uuid: first, handle: "one", displayName: nil, subscriber: true),
                ], at: Self.now)
            try await store.saveFans(account: "b", [FanRecord(uuid: first, handle: "uno", displayName: "Uno", subscriber: true)], at: Self.now)
            try await store.saveFans(account: "a", [FanRecord(uuid: second, handle: "deux", displayName: "Two", subscriber: true)], at: Self.now)
            #expect(
                try await store.fans(account: "a") == [
                    FanRecord(uuid: first, handle: "one", displayName: nil, subscriber: false),
                    FanRecord(uuid: second, handle: "deux", displayName: "Two", subscriber: true),
                ])
            #expect(try await store.fans(account: "b") == [FanRecord(uuid: first, handle: "uno", displayName: "Uno", subscriber: true)])
            #expect(try await store.fans(account: nil).map(\.uuid) == [first, first, second])
            #expect(try await store.fans(account: "c").isEmpty)
        }
    }

    /// Purchases: a refund takes its net from the revenue but is no purchase; a purchase seen again takes only its
    /// new status; a send is marked bought once; shares of a purchase the ledger lacks are refused and nothing of
    /// that call is written.
    @Test(arguments: LedgerKind.available)
    func purchasesRefundsAndStatusesAddUpPerItem(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            let (a, b) = (ids[0], ids[1])
            let fan = Self.fans[0]
            _ = try await store.claimSends(fan: fan, items: [a], priceCents: 1000, context: Self.context, at: Self.now)
            func purchase(_ id: String, _ gross: Int, _ net: Int, status: String?, at seconds: Double, source: String = "message")
                -> PurchaseRecord
            {
                PurchaseRecord(
                    transactionID: id, fan: fan, source: source, messageUUID: "m-1", postUUID: nil, grossCents: gross,
                    netCents: net, currency: "USD", status: status, at: Self.now.addingTimeInterval(seconds))
            }
            let t1 = purchase("t-1", 1000, 800, status: "pending", at: 0)
            let t3 = purchase("t-3", 600, 480, status: nil, at: 10)
            let shares = [
                PurchaseShare(transactionID: "t-1", itemID: a, grossCents: 1000, netCents: 800),
                PurchaseShare(transactionID: "t-3", itemID: a, grossCents: 300, netCents: 240),
                PurchaseShare(transactionID: "t-3", itemID: b, grossCents: 300, netCents: 240),
            ]
            let bought = Self.now.addingTimeInterval(5)
            #expect(try await store.savePurchases([t1, t3], shares: shares, purchasedSends: [(fan, a, bought)], account: "acct", at: Self.now) == 2)
            func totals() async throws -> [Int] {
                try await store.items(drop: nil).sorted { $0.id.hex < $1.id.hex }.flatMap { [$0.timesPurchased, $0.revenueCents] }
            }
            let order = a.hex < b.hex
            #expect(try await totals() == (order ? [2, 1040, 1, 240] : [1, 240, 2, 1040]))

            var paid = t1
            paid.status = "paid"
            paid.grossCents = 1
            let refund = purchase("t-2", -1000, -800, status: nil, at: 20, source: "refund")
            let later = Self.now.addingTimeInterval(9)
            let saved = try await store.savePurchases(
                [paid, refund], shares: [PurchaseShare(transactionID: "t-2", itemID: a, grossCents: -1000, netCents: -800)],
                purchasedSends: [(fan, a, later)], account: "acct", at: Self.now)
            #expect(saved == 1)
            #expect(try await totals() == (order ? [2, 240, 1, 240] : [1, 240, 2, 240]), "a refund is no purchase but takes its net")
            var kept = t1
            kept.status = "paid"
            #expect(try await store.purchases() == [kept, t3, refund], "by time; only the status of a known purchase changes")
            #expect(try await store.allSends().map(\.purchasedAt) == [bought], "bought once")

            await #expect(throws: (any Error).self, "a share of a purchase the ledger lacks") {
                _ = try await store.savePurchases(
                    [purchase("t-4", 500, 400, status: nil, at: 30)],
                    shares: [PurchaseShare(transactionID: "t-x", itemID: a, grossCents: 500, netCents: 400)],
                    purchasedSends: [], account: "acct", at: Self.now)
            }
            #expect(try await store.purchases().map(\.transactionID) == ["t-1", "t-3", "t-2"], "nothing of the refused call")
            #expect(try await store.purchaseShares().count == 4)
        }
    }
}
