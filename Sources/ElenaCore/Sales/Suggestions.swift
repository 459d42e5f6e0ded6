import Foundation

/// Items worth sending a fan next. Pure.
package enum Suggestions {
    /// One suggestion.
    package struct Suggestion: Sendable, Hashable {
        package var item: ItemRecord
        /// This item's sends and bought sends so far.
        package var sends: Int
        package var purchasedSends: Int
        package var netCents: Int
        /// Expected conversion (the item's own record, pulled toward its tags' and the overall rate while the
        /// item has few sends).
        package var expectedConversion: Double
        /// The price to ask.
        package var suggestedPriceCents: Int?
        /// Why that price.
        package var priceReason: String
        /// Expected net per send at that price (what the ranking sorts by).
        package var score: Double
    }

    /// How many sends an item needs before its own record outweighs its tags'.
    static let priorWeight = 3.0

    /// Approved, uploaded items `fan` never received and that were never posted to the feed, best first. The price
    /// asked: the one the item sold best at, else its own, else the price point that earned most per send.
    /// - Parameters:
    ///   - minimumPriceCents: Fanvue's minimum; no suggestion goes below it.
    package static func rank(
        fan: String, items: [ItemRecord], sends: [SendRecord], posts: [PostRecord], report: SalesReport,
        minimumPriceCents: Int = 300, limit: Int = 10
    ) -> [Suggestion] {
        let received = Set(sends.filter { $0.fan == fan }.map(\.itemID))
        let posted = Set(posts.flatMap(\.items))
        let itemRows = Dictionary(report.items.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let tagRows = Dictionary(report.tags.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let overall = report.total.conversion ?? 0.1
        // The price that earned the most per send so far (at least one sale there), else nil.
        let bestPrice = bestPricePoint(sends: sends, minimumPriceCents: minimumPriceCents)
        let sendsByItem = Dictionary(grouping: sends, by: \.itemID)

        let candidates = items.filter { item in
            item.fanvueMediaUUID != nil && !received.contains(item.id) && !posted.contains(item.id)
                && item.status != .rejected
        }
        let ranked = candidates.map { item -> Suggestion in
            let row = itemRows[item.id.hex]
            let sendsCount = row?.sends ?? 0
            let bought = row?.purchasedSends ?? 0
            let tagRates = item.tags.compactMap { tagRows[$0]?.conversion }
            let prior = tagRates.isEmpty ? overall : tagRates.reduce(0, +) / Double(tagRates.count)
            let expected = (Double(bought) + prior * priorWeight) / (Double(sendsCount) + priorWeight)
            var price = item.priceCents
            var reason = "the item's own price"
            if let own = bestPricePoint(sends: sendsByItem[item.id] ?? [], minimumPriceCents: minimumPriceCents) {
                price = own
                reason = "the price it sold best at"
            } else if item.priceCents == nil {
                price = bestPrice
                reason = bestPrice == nil ? "no price set and no sales yet" : "the price point that earned most per send"
            }
            if let current = price, current < minimumPriceCents {
                price = minimumPriceCents
                reason = "Fanvue's minimum"
            }
            let score = expected * Double(price ?? minimumPriceCents)
            return Suggestion(
                item: item, sends: sendsCount, purchasedSends: bought, netCents: row?.netCents ?? 0,
                expectedConversion: expected, suggestedPriceCents: price, priceReason: reason, score: score)
        }
        return Array(
            ranked.sorted { left, right in
                left.score != right.score ? left.score > right.score : left.item.id.hex < right.item.id.hex
            }.prefix(max(0, limit)))
    }

    /// The price with the highest bought-sends × price per send, among prices that sold at least once.
    static func bestPricePoint(sends: [SendRecord], minimumPriceCents: Int) -> Int? {
        var byPrice: [Int: (sends: Int, bought: Int)] = [:]
        for send in sends {
            guard let price = send.priceCents else { continue }
            var entry = byPrice[price] ?? (0, 0)
            entry.sends += 1
            if send.purchasedAt != nil { entry.bought += 1 }
            byPrice[price] = entry
        }
        let scored = byPrice.filter { $0.value.bought > 0 }.map { price, entry in
            (price, Double(entry.bought) / Double(entry.sends) * Double(price))
        }
        return scored.max { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 > $1.0 }.map { max($0.0, minimumPriceCents) }
    }
}
