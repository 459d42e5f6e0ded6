package import Foundation

/// Revenue, sends, purchases and conversion, grouped per item, tag, drop and price point. Pure.
package struct SalesReport: Sendable, Hashable {
    /// One group's figures.
    package struct Row: Sendable, Hashable {
        /// The item id, tag, drop name or price (`$9.99`, or `post` for feed purchases).
        package var key: String
        /// A human label (an item's file name; else the key).
        package var label: String
        /// Pay-per-view sends (one per fan and item).
        package var sends: Int
        /// Of those, bought.
        package var purchasedSends: Int
        /// Purchases attributed (messages and posts).
        package var purchases: Int
        package var grossCents: Int
        package var netCents: Int

        /// Bought sends over sends (nil with no sends).
        package var conversion: Double? { sends == 0 ? nil : Double(purchasedSends) / Double(sends) }

        init(key: String, label: String) {
            self.key = key
            self.label = label
            sends = 0
            purchasedSends = 0
            purchases = 0
            grossCents = 0
            netCents = 0
        }
    }

    package var items: [Row]
    package var tags: [Row]
    package var drops: [Row]
    package var prices: [Row]
    /// Sends by path: `manifest` (a drop's message), `send`, `manual` (by hand in Fanvue, found by reconcile) or
    /// `fanvue` (Fanvue's own mass messages and automations).
    package var paths: [Row]
    /// Every figure together.
    package var total: Row
    /// Purchases tied to no item, and their gross.
    package var unattributedPurchases: Int
    package var unattributedGrossCents: Int
    /// Refunds and chargebacks, per fan (already netted in every figure above).
    package var reversals: [Reversal] = []

    /// The refunds and chargebacks of one fan.
    package struct Reversal: Sendable, Hashable {
        package var fan: String
        package var refunds: Int
        package var chargebacks: Int
        /// Their gross, negative.
        package var grossCents: Int
        /// The fan's net over every purchase, reversals included.
        package var fanNetCents: Int
        package var lastAt: Date
    }

    /// The fans with a chargeback, with the date of the last one: `send --skip-chargebacks` leaves them out.
    package static func chargebacks(_ purchases: [PurchaseRecord]) -> [String: Date] {
        var result: [String: Date] = [:]
        for purchase in purchases where purchase.source == "chargeback" {
            guard let fan = purchase.fan else { continue }
            result[fan] = max(result[fan] ?? .distantPast, purchase.at)
        }
        return result
    }

    /// How people read a send's path.
    package static let pathLabels = [
        "manifest": "a drop's message", "send": "elena-run send", "manual": "by hand in Fanvue",
        "fanvue": "Fanvue (mass message, automation)",
    ]

    /// Builds the report from the ledger.
    package static func build(
        items: [ItemRecord], sends: [SendRecord], purchases: [PurchaseRecord], shares: [PurchaseShare]
    ) -> SalesReport {
        let byID = Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let purchaseByID = Dictionary(purchases.map { ($0.transactionID, $0) }, uniquingKeysWith: { first, _ in first })
        var sendPrice: [String: Int] = [:]
        var sendPath: [String: String] = [:]
        for send in sends {
            if let price = send.priceCents { sendPrice[send.fan + "|" + send.itemID.hex] = price }
            sendPath[send.fan + "|" + send.itemID.hex] = send.via ?? "send"
        }

        var itemRows: [Digest: Row] = [:]
        var tagRows: [String: Row] = [:]
        var dropRows: [String: Row] = [:]
        var priceRows: [String: Row] = [:]
        var total = Row(key: "total", label: "total")
        func itemRow(_ id: Digest) -> Row {
            itemRows[id] ?? Row(key: id.hex, label: byID[id].map { $0.croppedName ?? $0.originalName } ?? id.hex)
        }
        func apply(_ item: Digest, price: String?, _ change: (inout Row) -> Void) {
            var row = itemRow(item)
            change(&row)
            itemRows[item] = row
            change(&total)
            if let record = byID[item] {
                for tag in Set(record.tags) {
                    var tagRow = tagRows[tag] ?? Row(key: tag, label: tag)
                    change(&tagRow)
                    tagRows[tag] = tagRow
                }
                var dropRow = dropRows[record.drop] ?? Row(key: record.drop, label: record.drop)
                change(&dropRow)
                dropRows[record.drop] = dropRow
            }
            if let price {
                var priceRow = priceRows[price] ?? Row(key: price, label: price)
                change(&priceRow)
                priceRows[price] = priceRow
            }
        }
        var pathRows: [String: Row] = [:]
        for send in sends where send.isPPV {
            let price = Money.describe(send.priceCents)
            let count = { (row: inout Row) in
                row.sends += 1
                if send.purchasedAt != nil { row.purchasedSends += 1 }
            }
            apply(send.itemID, price: price, count)
            let path = send.via ?? "send"
            var pathRow = pathRows[path] ?? Row(key: path, label: Self.pathLabels[path] ?? path)
            count(&pathRow)
            pathRows[path] = pathRow
        }
        for share in shares {
            let purchase = purchaseByID[share.transactionID]
            let price: String
            if let fan = purchase?.fan, purchase?.messageUUID != nil, let cents = sendPrice[fan + "|" + share.itemID.hex] {
                price = Money.describe(cents)
            } else {
                price = purchase?.postUUID != nil ? "post" : "other"
            }
            let add = { (row: inout Row) in
                if share.grossCents > 0 { row.purchases += 1 }  // a refund or chargeback nets the money only
                row.grossCents += share.grossCents
                row.netCents += share.netCents
            }
            apply(share.itemID, price: price, add)
            if let fan = purchase?.fan, purchase?.messageUUID != nil, let path = sendPath[fan + "|" + share.itemID.hex] {
                var pathRow = pathRows[path] ?? Row(key: path, label: Self.pathLabels[path] ?? path)
                add(&pathRow)
                pathRows[path] = pathRow
            }
        }
        let attributed = Set(shares.map(\.transactionID))
        let unattributed = purchases.filter { !attributed.contains($0.transactionID) }
        func ordered(_ rows: some Collection<Row>) -> [Row] {
            rows.sorted { ($0.netCents, $0.purchases, $0.sends, $1.key) > ($1.netCents, $1.purchases, $1.sends, $0.key) }
        }
        var reversals: [String: Reversal] = [:]
        var fanNet: [String: Int] = [:]
        for purchase in purchases {
            guard let fan = purchase.fan else { continue }
            fanNet[fan, default: 0] += purchase.netCents
            guard purchase.source == "refund" || purchase.source == "chargeback" else { continue }
            var entry = reversals[fan] ?? Reversal(fan: fan, refunds: 0, chargebacks: 0, grossCents: 0, fanNetCents: 0, lastAt: purchase.at)
            if purchase.source == "refund" { entry.refunds += 1 } else { entry.chargebacks += 1 }
            entry.grossCents += purchase.grossCents
            entry.lastAt = max(entry.lastAt, purchase.at)
            reversals[fan] = entry
        }
        for fan in reversals.keys { reversals[fan]?.fanNetCents = fanNet[fan] ?? 0 }
        var report = SalesReport(
            items: ordered(itemRows.values), tags: ordered(tagRows.values), drops: ordered(dropRows.values),
            prices: ordered(priceRows.values), paths: ordered(pathRows.values), total: total, unattributedPurchases: unattributed.count,
            unattributedGrossCents: unattributed.reduce(0) { $0 + $1.grossCents })
        report.reversals = reversals.values.sorted { ($0.lastAt, $0.fan) > ($1.lastAt, $1.fan) }
        return report
    }
}

/// Prices as people read them.
package enum Money {
    /// `$9.99`, or `no price` for nil.
    package static func describe(_ cents: Int?) -> String {
        guard let cents else { return "no price" }
        return (cents < 0 ? "-" : "") + "$\(abs(cents) / 100)." + (abs(cents) % 100 < 10 ? "0" : "") + "\(abs(cents) % 100)"
    }

    /// Parses `9.99`, `$9.99` or `9` into cents (nil for anything else, or more than two decimals).
    package static func parse(_ text: String) -> Int? {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("$") { trimmed.removeFirst() }
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int(parts[0]), whole >= 0, parts[0].allSatisfy(\.isASCII) else { return nil }
        var cents = whole * 100
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...2).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(fraction)
            else { return nil }
            cents += fraction.count == 1 ? value * 10 : value
        }
        return cents
    }
}
