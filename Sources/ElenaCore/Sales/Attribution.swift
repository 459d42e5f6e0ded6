package import Foundation

/// Which items each purchase paid for. Pure: `sync` gathers the facts, this decides.
package enum Attribution {
    /// The outcome for a batch of purchases.
    package struct Result: Sendable, Hashable {
        /// Each attributed purchase split across its items.
        package var shares: [PurchaseShare]
        /// Sends the purchases paid for: (fan, item, when).
        package var purchasedSends: [PurchasedSend]
        /// Transactions tied to no known item (subscriptions, tips, messages sent outside elena-run…).
        package var unattributed: [String]
    }

    /// A send that was bought.
    package struct PurchasedSend: Sendable, Hashable {
        package var fan: String
        package var item: Digest
        package var at: Date
    }

    /// Splits `total` into `count` parts that add up exactly (the first parts take the remainder).
    package static func split(_ total: Int, into count: Int) -> [Int] {
        guard count > 0 else { return [] }
        let base = total / count
        let remainder = total - base * count
        return (0..<count).map { base + ($0 < remainder ? 1 : 0) }
    }

    /// Attributes purchases to items:
    /// - a message purchase through the sends that message carried (by message uuid, or by the mass message
    ///   that reached this fan), else through `messageItems` (messages read from the fan's chat, whose media
    ///   map to items);
    /// - a post purchase through the post's items.
    /// Amounts are split evenly across the items, exactly.
    package static func attribute(
        _ purchases: [PurchaseRecord], sends: [SendRecord], posts: [PostRecord], messageItems: [String: [Digest]] = [:]
    ) -> Result {
        var byMessage: [String: Set<Digest>] = [:]
        var byMass: [String: Set<Digest>] = [:]
        for send in sends {
            if let uuid = send.messageUUID { byMessage[uuid, default: []].insert(send.itemID) }
            if let id = send.massMessageID { byMass[id + "|" + send.fan, default: []].insert(send.itemID) }
        }
        var byPost: [String: [Digest]] = [:]
        for post in posts { if let uuid = post.uuid { byPost[uuid] = post.items } }
        var result = Result(shares: [], purchasedSends: [], unattributed: [])
        for purchase in purchases {
            var items: [Digest] = []
            var viaMessage = false
            if let uuid = purchase.messageUUID {
                viaMessage = true
                let found =
                    byMessage[uuid] ?? byMass[uuid + "|" + (purchase.fan ?? "")] ?? messageItems[uuid].map(Set.init) ?? []
                items = found.sorted { $0.hex < $1.hex }
            } else if let uuid = purchase.postUUID {
                items = Array(Set(byPost[uuid] ?? [])).sorted { $0.hex < $1.hex }
            }
            guard !items.isEmpty else {
                result.unattributed.append(purchase.transactionID)
                continue
            }
            let gross = split(purchase.grossCents, into: items.count)
            let net = split(purchase.netCents, into: items.count)
            for (index, item) in items.enumerated() {
                result.shares.append(
                    PurchaseShare(
                        transactionID: purchase.transactionID, itemID: item, grossCents: gross[index], netCents: net[index]))
                // A refund or chargeback (negative) nets the revenue; it does not make a send bought.
                if viaMessage, purchase.grossCents > 0, let fan = purchase.fan {
                    result.purchasedSends.append(PurchasedSend(fan: fan, item: item, at: purchase.at))
                }
            }
        }
        return result
    }
}
