import ElenaCore
import Foundation
import Testing

/// Attribution, the sales report and suggestions: pure functions over ledger records.
@Suite struct SalesTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)
    static let fans = (1...6).map { "7c1b1c1e-1111-4aaa-8bbb-00000000000\($0)" }

    func item(_ name: String, drop: String = "d1", tags: [String] = [], price: Int? = 900, uploaded: Bool = true) -> ItemRecord {
        ItemRecord(
            id: Digest.of(name), drop: drop, originalName: name, originalPath: "/src/\(name)", rawPath: nil,
            status: .published, fanvueMediaUUID: uploaded ? "media-\(name)" : nil, tags: tags, priceCents: price,
            createdAt: Self.now, updatedAt: Self.now)
    }

    func send(_ item: ItemRecord, _ fan: String, price: Int? = 900, message: String? = nil, bought: Bool = false) -> SendRecord {
        SendRecord(
            itemID: item.id, fan: fan, messageUUID: message ?? "m-\(item.originalName)-\(fan.suffix(2))", priceCents: price,
            sentAt: Self.now, purchasedAt: bought ? Self.now : nil)
    }

    func purchase(_ id: String, fan: String?, message: String? = nil, post: String? = nil, gross: Int, net: Int) -> PurchaseRecord {
        PurchaseRecord(
            transactionID: id, fan: fan, source: message != nil ? "message" : post != nil ? "post" : "tip",
            messageUUID: message, postUUID: post, grossCents: gross, netCents: net, currency: "USD", status: nil, at: Self.now)
    }

    @Test(arguments: [(1000, 3), (1, 2), (0, 4), (999, 1), (1001, 7)])
    func splitsAddUpExactly(total: Int, count: Int) {
        let parts = Attribution.split(total, into: count)
        #expect(parts.count == count)
        #expect(parts.reduce(0, +) == total)
        #expect((parts.max() ?? 0) - (parts.min() ?? 0) <= 1)
    }

    @Test func purchasesAreTiedToItemsThroughMessagesMassMessagesAndPosts() {
        let a = item("a.png")
        let b = item("b.png")
        let c = item("c.png")
        let sends = [
            send(a, Self.fans[0], message: "m-1"), send(b, Self.fans[0], message: "m-1"),
            SendRecord(itemID: c.id, fan: Self.fans[1], messageUUID: nil, massMessageID: "mass-1", priceCents: 900, sentAt: Self.now),
        ]
        let posts = [PostRecord(uuid: "p-1", drop: "d1", audience: "subscribers", priceCents: 1500, items: [c.id], createdAt: Self.now)]
        let result = Attribution.attribute(
            [
                purchase("t1", fan: Self.fans[0], message: "m-1", gross: 901, net: 721),
                purchase("t2", fan: Self.fans[1], message: "mass-1", gross: 900, net: 720),
                purchase("t3", fan: Self.fans[2], post: "p-1", gross: 1500, net: 1200),
                purchase("t4", fan: Self.fans[3], message: "copy-of-mass", gross: 900, net: 720),
                purchase("t5", fan: Self.fans[4], gross: 500, net: 400),
                purchase("t6", fan: Self.fans[5], message: "unknown", gross: 900, net: 720),
            ], sends: sends, posts: posts, messageItems: ["copy-of-mass": [c.id]])
        let byTransaction = Dictionary(grouping: result.shares, by: \.transactionID)
        #expect(Set(byTransaction["t1"]?.map(\.itemID) ?? []) == [a.id, b.id])
        #expect(byTransaction["t1"]?.map(\.grossCents).reduce(0, +) == 901)
        #expect(byTransaction["t2"]?.map(\.itemID) == [c.id], "through the mass message that reached this fan")
        #expect(byTransaction["t3"]?.map(\.itemID) == [c.id], "through the post")
        #expect(byTransaction["t4"]?.map(\.itemID) == [c.id], "through the chat's media")
        #expect(result.unattributed == ["t5", "t6"])
        #expect(Set(result.purchasedSends.map { "\($0.fan.suffix(1))\($0.item == a.id ? "a" : $0.item == b.id ? "b" : "c")" }) == ["1a", "1b", "2c", "4c"])
    }

    @Test func theReportGroupsByItemTagDropAndPrice() {
        let a = item("a.png", drop: "d1", tags: ["red", "dress"])
        let b = item("b.png", drop: "d2", tags: ["red"])
        let sends = [
            send(a, Self.fans[0], price: 900, bought: true), send(a, Self.fans[1], price: 900),
            send(b, Self.fans[0], price: 1500, bought: true), send(b, Self.fans[2], price: nil),
        ]
        let purchases = [
            purchase("t1", fan: Self.fans[0], message: sends[0].messageUUID, gross: 900, net: 720),
            purchase("t2", fan: Self.fans[0], message: sends[2].messageUUID, gross: 1500, net: 1200),
            purchase("t3", fan: Self.fans[3], gross: 300, net: 240),
        ]
        let shares = Attribution.attribute(purchases, sends: sends, posts: []).shares
        let report = SalesReport.build(items: [a, b], sends: sends, purchases: purchases, shares: shares)
        #expect(report.total.sends == 3, "free messages are not pay-per-view sends")
        #expect(report.total.netCents == 1920)
        #expect(report.unattributedPurchases == 1 && report.unattributedGrossCents == 300)
        #expect(report.items.map(\.label) == ["b.png", "a.png"], "best earner first")
        let itemA = report.items.first { $0.label == "a.png" }
        #expect(itemA?.sends == 2 && itemA?.purchasedSends == 1 && itemA?.conversion == 0.5)
        #expect(report.tags.first { $0.key == "red" }?.netCents == 1920)
        #expect(report.tags.first { $0.key == "dress" }?.netCents == 720)
        #expect(report.drops.map(\.key) == ["d2", "d1"])
        #expect(report.prices.first { $0.key == "$9.00" }?.sends == 2)
        #expect(report.prices.first { $0.key == "$15.00" }?.netCents == 1200)
    }

    @Test func suggestionsLeaveOutWhatTheFanHasOrSawAndRankBestSellersFirst() {
        let seller = item("seller.png", tags: ["red"])
        let dud = item("dud.png", tags: ["blue"])
        let fresh = item("fresh.png", tags: ["red", "blue"], price: nil)
        let had = item("had.png")
        let posted = item("posted.png")
        let pending = item("pending.png", uploaded: false)
        var sends: [SendRecord] = []
        for (index, fan) in Self.fans.prefix(4).enumerated() {
            sends.append(send(seller, fan, price: 1200, bought: index < 3))
            sends.append(send(dud, fan, price: 900, bought: false))
        }
        let target = Self.fans[5]
        sends.append(send(had, target))
        let posts = [PostRecord(uuid: "p", drop: "d1", audience: "subscribers", priceCents: nil, items: [posted.id], createdAt: Self.now)]
        let report = SalesReport.build(items: [seller, dud, fresh, had, posted, pending], sends: sends, purchases: [], shares: [])
        let ranked = Suggestions.rank(
            fan: target, items: [seller, dud, fresh, had, posted, pending], sends: sends, posts: posts, report: report)
        #expect(ranked.map(\.item.originalName) == ["seller.png", "fresh.png", "dud.png"])
        #expect(ranked.first?.suggestedPriceCents == 1200, "the price it sold best at, not its list price")
        #expect(ranked.last?.suggestedPriceCents == 900, "no sales of its own: its own price")
        let freshOne = ranked.first { $0.item.originalName == "fresh.png" }
        #expect(freshOne?.suggestedPriceCents == 1200, "no price of its own: the price point that earned most")
        #expect(Suggestions.rank(fan: target, items: [seller], sends: sends, posts: [], report: report, limit: 0).isEmpty)
        // A fan who got the best seller does not see it again.
        #expect(!Suggestions.rank(fan: Self.fans[0], items: [seller, dud], sends: sends, posts: [], report: report).contains { $0.item.id == seller.id })
    }

    @Test(arguments: [("9.99", 999), ("$12", 1200), ("3.5", 350), ("0.01", 1)])
    func pricesParse(text: String, cents: Int) {
        #expect(Money.parse(text) == cents)
    }

    @Test(arguments: ["9.999", "abc", "-3", "", "1.2.3", "٣"])
    func badPricesAreRefused(text: String) {
        #expect(Money.parse(text) == nil)
    }

    @Test func pricesPrint() {
        #expect(Money.describe(999) == "$9.99")
        #expect(Money.describe(1200) == "$12.00")
        #expect(Money.describe(5) == "$0.05")
        #expect(Money.describe(nil) == "no price")
    }
}
