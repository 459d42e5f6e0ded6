import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// What the ledger keeps of Fanvue's own history (`HistoryLedger`): chats as read, media uploaded outside
/// elena-run, the sends the chats show, and campaigns. The same exact values in memory, on a SQLite file and on
/// PostgreSQL.
@Suite struct HistoryLedgerContractTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)
    static let fans = (1...3).map { "7c1b1c1e-2222-4aaa-8bbb-00000000000\($0)" }

    /// `now` plus some seconds.
    static func at(_ seconds: Double) -> Date { now.addingTimeInterval(seconds) }

    /// Items of drop d1, one per name, in the ledger.
    func items(_ store: any RunStore, _ names: [String]) async throws -> [Digest] {
        let records = names.map { name in
            ItemRecord(
                id: Digest.of(name), drop: "d1", originalName: name, originalPath: "/src/\(name)", rawPath: nil,
                status: .published, tags: [], priceCents: 900, createdAt: Self.now, updatedAt: Self.now)
        }
        try await store.upsertItems(records, sourcePaths: [:])
        return records.map(\.id)
    }

    /// Records a ready upload of `item` to `account` as `media`.
    func upload(_ store: any RunStore, _ item: Digest, media: String, account: String = "acct") async throws {
        try await store.saveUpload(
            UploadRecord(
                contentDigest: Digest.of("bytes of " + media), account: account, itemID: item, uploadID: "up-" + media,
                mediaUUID: media, status: .ready, partSize: 5_242_880, parts: [], createdAt: Self.now, updatedAt: Self.now))
    }

    /// One media of a message, as a chat showed it.
    func entry(_ message: String, _ media: String, _ path: String = "manual", price: Int? = nil, at seconds: Double, bought: Double? = nil)
        -> ChatHistory.Entry
    {
        ChatHistory.Entry(
            messageUUID: message, mediaUUID: media, path: path, priceCents: price, sentAt: Self.at(seconds),
            purchasedAt: bought.map(Self.at))
    }

    /// A chat's cursor keeps its newest message when a read brings none, and its read time moves either way.
    @Test(arguments: LedgerKind.available)
    func chatCursorsMoveAndKeepTheirNewestMessage(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let (first, second) = (Self.fans[0], Self.fans[1])
            #expect(try await store.chatCursors(account: "acct", fans: [first, second]).isEmpty)
            try await store.saveChatHistory(account: "acct", [ChatHistory(fan: first, entries: [], newestMessage: "m-2")], at: Self.now)
            #expect(try await store.chatCursors(account: "acct", fans: [first]) == [first: ChatCursor(newestMessage: "m-2", reconciledAt: Self.now)])
            try await store.saveChatHistory(
                account: "acct",
                [ChatHistory(fan: first, entries: [], newestMessage: nil), ChatHistory(fan: second, entries: [], newestMessage: nil)],
                at: Self.at(60))
            #expect(
                try await store.chatCursors(account: "acct", fans: [first, second, Self.fans[2]]) == [
                    first: ChatCursor(newestMessage: "m-2", reconciledAt: Self.at(60)),
                    second: ChatCursor(newestMessage: nil, reconciledAt: Self.at(60)),
                ])
            #expect(try await store.chatCursors(account: "other", fans: [first]).isEmpty)
            try await store.saveChatHistory(account: "acct", [], at: Self.at(120))
            #expect(try await store.chatCursors(account: "acct", fans: [first])[first]?.reconciledAt == Self.at(60))
        }
    }

    /// A chat's media is placed by an upload of elena-run's or by an external media tied to an item; an external
    /// media not tied to one is no longer unplaced (it was looked at), and a later look that learns less keeps what
    /// the earlier one learnt. Published bytes name their item.
    @Test(arguments: LedgerKind.available)
    func chatMediaIsPlacedByUploadsAndExternalMedia(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            let (a, b) = (ids[0], ids[1])
            try await upload(store, a, media: "u-a")
            let fan = Self.fans[0]
            try await store.saveChatHistory(
                account: "acct",
                [
                    ChatHistory(
                        fan: fan,
                        entries: [
                            entry("m-1", "u-a", price: 900, at: 10), entry("m-2", "x-1", at: 20), entry("m-2", "x-2", at: 20),
                            entry("m-3", "x-3", at: 30), entry("m-4", "x-1", at: 40),
                        ], newestMessage: "m-4")
                ], at: Self.now)
            #expect(try await store.unplacedChatMedia(account: "acct") == ["x-1", "x-2", "x-3"])
            #expect(try await store.placedMedia(account: "acct") == ["u-a": a])

            try await store.saveExternalMedia(account: "acct", media: "x-1", sha256: Digest.of("x-1 bytes"), item: b, at: Self.now)
            try await store.saveExternalMedia(account: "acct", media: "x-2", sha256: nil, item: nil, at: Self.now)
            #expect(try await store.unplacedChatMedia(account: "acct") == ["x-3"])
            #expect(try await store.placedMedia(account: "acct") == ["u-a": a, "x-1": b])

            try await store.saveExternalMedia(account: "acct", media: "x-2", sha256: nil, item: a, at: Self.now)
            try await store.saveExternalMedia(account: "acct", media: "x-2", sha256: Digest.of("x-2 bytes"), item: nil, at: Self.now)
            #expect(try await store.placedMedia(account: "acct") == ["u-a": a, "x-1": b, "x-2": a], "the item learnt stays")
            #expect(try await store.placedMedia(account: "other").isEmpty)
            #expect(try await store.unplacedChatMedia(account: "other").isEmpty)
            await #expect(throws: (any Error).self, "an item the ledger lacks") {
                try await store.saveExternalMedia(account: "acct", media: "x-3", sha256: nil, item: Digest.of("no such item"), at: Self.now)
            }
            #expect(try await store.unplacedChatMedia(account: "acct") == ["x-3"])

            try await store.updateItems([(b, ItemUpdate(croppedDigest: Digest.of("b cropped")))], at: Self.now)
            #expect(try await store.item(publishedDigest: Digest.of("bytes of u-a")) == a, "uploaded bytes")
            #expect(try await store.item(publishedDigest: Digest.of("b cropped")) == b, "a crop")
            #expect(try await store.item(publishedDigest: b) == b, "the original")
            #expect(try await store.item(publishedDigest: Digest.of("unknown")) == nil)
        }
    }

    /// What the chats show becomes sends: a claim a run left unconfirmed is confirmed with the earliest message
    /// that carried its item; a send the ledger lacks is recorded with its path (a price under the minimum is no
    /// price); what a chat shows as bought marks the sends of that message bought, in that fan's chat only.
    /// Idempotent: a second pass changes nothing.
    @Test(arguments: LedgerKind.available)
    func wiringTheChatsRecordsConfirmsAndMarksPurchases(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png", "c.png", "d.png"])
            let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3])
            try await upload(store, a, media: "u-a")
            try await upload(store, b, media: "u-b")
            try await upload(store, c, media: "u-c", account: "other")
            try await upload(store, d, media: "u-d")
            let (first, second) = (Self.fans[0], Self.fans[1])
            let context = SendContext(account: "acct", drop: "d1", via: "send")
            // Claimed by a run that died before it heard back.
            _ = try await store.claimSends(fan: first, items: [a], priceCents: 900, context: context, at: Self.now)
            // Sent by elena-run in message m-2 (whose purchase the chat shows), and a send of another fan with the
            // same message id (whose chat shows no purchase of it).
            _ = try await store.claimSends(fan: first, items: [d], priceCents: 1500, context: context, at: Self.now)
            try await store.confirmSends(fan: first, items: [d], messageUUID: "m-2", massMessageID: nil)
            _ = try await store.claimSends(fan: second, items: [d], priceCents: 1500, context: context, at: Self.now)
            try await store.confirmSends(fan: second, items: [d], messageUUID: "m-2", massMessageID: nil)

            try await store.saveChatHistory(
                account: "acct",
                [
                    ChatHistory(
                        fan: first,
                        entries: [
                            entry("m-2", "u-a", price: 1500, at: 20, bought: 30), entry("m-2", "u-b", price: 1500, at: 20, bought: 30),
                            entry("m-1", "u-a", price: 900, at: 10), entry("m-5", "u-c", at: 50),
                        ], newestMessage: "m-5"),
                    ChatHistory(
                        fan: second, entries: [entry("m-3", "u-b", "fanvue", price: 200, at: 5), entry("m-4", "x-9", at: 6)],
                        newestMessage: "m-4"),
                ], at: Self.now)
            let wired = try await store.wireChatSends(account: "acct")
            #expect(wired.recorded == 2 && wired.confirmed == 1, "\(wired)")

            let expected = [
                SendRecord(itemID: a, fan: first, messageUUID: "m-1", priceCents: 900, sentAt: Self.now, via: "send", drop: "d1"),
                SendRecord(
                    itemID: d, fan: first, messageUUID: "m-2", priceCents: 1500, sentAt: Self.now, purchasedAt: Self.at(30),
                    via: "send", drop: "d1"),
                SendRecord(itemID: d, fan: second, messageUUID: "m-2", priceCents: 1500, sentAt: Self.now, via: "send", drop: "d1"),
                SendRecord(itemID: b, fan: second, messageUUID: "m-3", priceCents: nil, sentAt: Self.at(5), via: "fanvue"),
                SendRecord(
                    itemID: b, fan: first, messageUUID: "m-2", priceCents: 1500, sentAt: Self.at(20), purchasedAt: Self.at(30),
                    via: "manual"),
            ]
            #expect(try await store.allSends() == expected)

            let again = try await store.wireChatSends(account: "acct")
            #expect(again.recorded == 0 && again.confirmed == 0, "\(again)")
            #expect(try await store.allSends() == expected)
            #expect(try await store.wireChatSends(account: "other") == (0, 0), "the other account's chats show nothing")
        }
    }

    /// A campaign and its claims in one go (a fan who has an item keeps that send); Fanvue's id and status, then
    /// a new price for the campaign and all its sends (a price under the minimum refused); the claims given back
    /// except the buyers', with the copies the chats showed of the campaign's media in the other fans' chats.
    @Test(arguments: LedgerKind.available)
    func aCampaignIsClaimedConfirmedRepricedAndReleased(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            let (a, b) = (ids[0], ids[1])
            let (first, second, third) = (Self.fans[0], Self.fans[1], Self.fans[2])
            let context = SendContext(account: "acct", drop: "d1", via: "send")
            _ = try await store.claimSends(fan: third, items: [a], priceCents: 900, context: context, at: Self.at(-60))
            try await store.confirmSends(fan: third, items: [a], messageUUID: "m-0", massMessageID: nil)

            let campaign = CampaignRecord(
                id: "c-1", account: "acct", list: FanList(kind: .custom, id: "subscribers", name: "Subscribers", count: 12),
                exclusionList: nil, excluded: 0, intended: 3, mediaUUIDs: ["v-1", "v-2", "v-3"], text: "hi", priceCents: 900,
                scheduledAt: Self.at(3600), massMessageID: nil, status: .pending, drop: "d1", via: "send",
                createdAt: Self.now, updatedAt: Self.now)
            var claimContext = context
            claimContext.listName = "Subscribers"
            claimContext.campaign = "c-1"
            try await store.claimCampaign(campaign, fans: [first, second, third], items: [a, b], priceCents: 900, context: claimContext)
            var stored = campaign
            stored.list = FanList(kind: .smart, id: "subscribers", name: "Subscribers", count: nil)
            #expect(try await store.campaigns(account: "acct") == [stored], "a list's kind follows from its id; no count")
            #expect(try await store.campaigns(account: "other").isEmpty)
            func claim(_ item: Digest, _ fan: String) -> SendRecord {
                SendRecord(
                    itemID: item, fan: fan, messageUUID: nil, listName: "Subscribers", priceCents: 900, sentAt: Self.now,
                    via: "send", drop: "d1", campaignID: "c-1")
            }
            let kept = SendRecord(itemID: a, fan: third, messageUUID: "m-0", priceCents: 900, sentAt: Self.at(-60), via: "send", drop: "d1")
            var sends = [kept, claim(a, first), claim(b, first), claim(a, second), claim(b, second), claim(b, third)]
            #expect(try await store.allSends() == sends)

            try await store.confirmCampaign(id: "c-1", massMessageID: "mm-1", status: .scheduled, recipients: 3, at: Self.at(1))
            try await store.confirmCampaign(id: "c-1", massMessageID: "mm-1", status: .scheduled, recipients: nil, at: Self.at(2))
            stored.massMessageID = "mm-1"
            stored.status = .scheduled
            stored.recipientCount = 3
            stored.updatedAt = Self.at(2)
            #expect(try await store.campaigns(account: nil) == [stored])
            for index in sends.indices.dropFirst() { sends[index].massMessageID = "mm-1" }
            #expect(try await store.allSends() == sends)

            try await store.updateCampaign(id: "c-1", scheduledAt: Self.at(7200), priceCents: .some(1200), text: "new", at: Self.at(3))
            try await store.updateCampaign(id: "c-1", scheduledAt: nil, priceCents: .some(nil), text: nil, at: Self.at(4))
            await #expect(throws: (any Error).self, "under Fanvue's minimum") {
                try await store.updateCampaign(id: "c-1", scheduledAt: nil, priceCents: .some(299), text: nil, at: Self.at(5))
            }
            stored.scheduledAt = Self.at(7200)
            stored.text = "new"
            stored.priceCents = nil
            stored.updatedAt = Self.at(4)
            #expect(try await store.campaigns(account: "acct") == [stored])
            for index in sends.indices.dropFirst() { sends[index].priceCents = nil }
            #expect(try await store.allSends() == sends)
            #expect(try await store.ppvSends(items: [a, b]) == [a: 1], "free now, but the earlier message")

            _ = try await store.savePurchases(
                [], shares: [], purchasedSends: [(first, a, Self.at(10)), (first, b, Self.at(10))], account: "acct", at: Self.now)
            try await store.saveChatHistory(
                account: "acct",
                [
                    ChatHistory(fan: first, entries: [entry("mf", "v-2", "fanvue", at: 8)], newestMessage: "mf"),
                    ChatHistory(
                        fan: second, entries: [entry("ms", "v-1", "fanvue", at: 8), entry("ms2", "v-3", "manual", at: 9)],
                        newestMessage: "ms2"),
                ], at: Self.now)
            #expect(try await store.unplacedChatMedia(account: "acct") == ["v-1", "v-2", "v-3"])
            #expect(try await store.releaseCampaignSends(id: "c-1") == 3, "all but the first fan's: that fan bought them")
            #expect(
                try await store.unplacedChatMedia(account: "acct") == ["v-2", "v-3"],
                "the Fanvue copy in a releasing fan's chat went; the buyer's and a manual one stay")
            sends[1].purchasedAt = Self.at(10)
            sends[2].purchasedAt = Self.at(10)
            #expect(try await store.allSends() == Array(sends.prefix(3)))
            #expect(try await store.releaseCampaignSends(id: "c-1") == 0)

            // Saving it again changes Fanvue's side only; the list, media, text and price stay.
            var unsent = stored
            unsent.status = .unsent
            unsent.viewCount = 5
            unsent.text = "ignored"
            unsent.mediaUUIDs = []
            unsent.updatedAt = Self.at(6)
            try await store.saveCampaign(unsent)
            stored.status = .unsent
            stored.viewCount = 5
            stored.updatedAt = Self.at(6)
            #expect(try await store.campaigns(account: "acct") == [stored])

            // Fanvue's id is one campaign's; a claim of an item the ledger lacks writes nothing.
            var other = campaign
            other.id = "c-2"
            other.massMessageID = "mm-1"
            await #expect(throws: (any Error).self) { try await store.saveCampaign(other) }
            other.massMessageID = nil
            await #expect(throws: (any Error).self) {
                try await store.claimCampaign(other, fans: [first], items: [Digest.of("no such item")], priceCents: 900, context: context)
            }
            #expect(try await store.campaigns(account: nil).map(\.id) == ["c-1"])

            // Newest first.
            other.createdAt = Self.at(100)
            try await store.saveCampaign(other)
            #expect(try await store.campaigns(account: nil).map(\.id) == ["c-2", "c-1"])
        }
    }
}
