package import ElenaCore
import ElenaEngine
package import Foundation

/// An approved, uploaded item ready to send.
package struct SendableItem: Sendable, Hashable {
    package var id: Digest
    /// The name people know it by (the cropped file name).
    package var name: String
    /// Its Fanvue media uuid.
    package var media: String

    /// Creates an item.
    package init(id: Digest, name: String, media: String) {
        self.id = id
        self.name = name
        self.media = media
    }
}

/// What one send did for one fan.
package struct FanSendResult: Sendable, Hashable {
    package var fan: String
    /// The items that went out now.
    package var sent: [SendableItem]
    /// Items the fan already had (or that an interrupted run claimed): never sent twice.
    package var skipped: [SendableItem]
    /// The message (one-to-one) or mass message that carried them.
    package var messageUUID: String?
    package var massMessageID: String?
    /// Why nothing went out, when Fanvue refused it.
    package var error: String?
    /// Why the skipped items were skipped ("had it: sent by hand on 2026-11-30").
    package var reason: String?

    /// Creates a result.
    package init(
        fan: String, sent: [SendableItem], skipped: [SendableItem], messageUUID: String? = nil,
        massMessageID: String? = nil, error: String? = nil, reason: String? = nil
    ) {
        self.fan = fan
        self.reason = reason
        self.sent = sent
        self.skipped = skipped
        self.messageUUID = messageUUID
        self.massMessageID = massMessageID
        self.error = error
    }
}

/// Sends items to fans without ever sending an item twice to one fan, by any path (a drop's message, the `send`
/// command, two runners at once). For each fan, under the fan's lock: look in the ledger, claim the new sends
/// (the schema's unique constraint decides), send, confirm. A claim found unconfirmed under the lock was left by
/// a run that died; Fanvue is asked whether its message went out before anything is sent again.
package struct Sender: Sendable {
    package let store: any RunStore
    package let locks: any WorkLocks
    package let now: @Sendable () -> Date
    /// Whether a fan may get a picture they have a near-duplicate of (`send --allow-similar`, a drop's
    /// `publish.message.allow_similar`); never the same item twice either way.
    package var allowSimilar = false
    /// The near-duplicates found for a set of items, kept for the sender's life: a message to a thousand fans
    /// compares the pictures once, not once per fan.
    private let lookalikeMemo = Locked<[Set<Digest>: [Digest: [(id: Digest, name: String)]]]>([:])

    /// Creates a sender.
    package init(store: any RunStore, locks: any WorkLocks, now: @escaping @Sendable () -> Date, allowSimilar: Bool = false) {
        self.store = store
        self.locks = locks
        self.now = now
        self.allowSimilar = allowSimilar
    }

    /// What fans have of some items: a send of the item itself, or (unless `allowSimilar`) of another item that shows
    /// the same picture. Read from the ledger alone, before any network call.
    package struct Holdings: Sendable {
        /// For each item, the other items of the library that show the same picture, with their names.
        var similar: [Digest: [(id: Digest, name: String)]]
        /// Sends of the items and of their near-duplicates, by fan and item.
        var sends: [String: [Digest: SendRecord]]

        /// The send that makes `fan` have `item`, and why in words (the item's own send first).
        package func held(_ item: Digest, by fan: String) -> (send: SendRecord, reason: String)? {
            let owned = sends[fan] ?? [:]
            if let own = owned[item] { return (own, Sender.reason(own)) }
            for other in similar[item] ?? [] {
                if let send = owned[other.id] {
                    return (send, "has a near-duplicate (\(other.name), sent \(Timestamp.format(send.sentAt).prefix(10)))")
                }
            }
            return nil
        }

        /// The fans with any send of these items or their near-duplicates.
        var fans: Set<String> { Set(sends.keys) }
    }

    /// For each of `items`, the other items of the library that show the same picture (none when `allowSimilar`).
    package func lookalikes(of items: [Digest]) async throws -> [Digest: [(id: Digest, name: String)]] {
        guard !allowSimilar else { return [:] }
        let key = Set(items)
        if let known = lookalikeMemo.withLock({ $0[key] }) { return known }
        let library = try await store.fingerprints(items: nil)
        let candidates = items.compactMap { id in library[id].map { (id: id, prints: $0) } }
        let near = NearDuplicates.matches(candidates, in: library.map { (id: $0.key, prints: $0.value) })
        var names: [Digest: String] = [:]
        for id in Set(near.values.flatMap { $0.map(\.id) }) {
            names[id] = try await store.item(idPrefix: id.hex).first?.originalName ?? String(id.hex.prefix(12))
        }
        var similar: [Digest: [(id: Digest, name: String)]] = [:]
        for (id, matches) in near { similar[id] = matches.map { ($0.id, names[$0.id] ?? "") } }
        lookalikeMemo.withLock { $0[key] = similar }
        return similar
    }

    /// The holdings of `items`: their sends, and those of the items that look like them.
    package func holdings(of items: [Digest]) async throws -> Holdings {
        let similar = try await lookalikes(of: items)
        let wanted = Array(Set(items + similar.values.flatMap { $0.map(\.id) }))
        var sends: [String: [Digest: SendRecord]] = [:]
        for send in try await store.sends(items: wanted) { sends[send.fan, default: [:]][send.itemID] = send }
        return Holdings(similar: similar, sends: sends)
    }

    /// Which of `items` each fan still lacks, from the ledger alone (no network): the dry run and the fast path.
    /// `skip` holds every item the fan has a send of, `unconfirmed` those among them still only claimed, `reason`
    /// why the first of them is skipped.
    package func plan(items: [SendableItem], fans: [String]) async throws
        -> [(fan: String, send: [SendableItem], skip: [SendableItem], unconfirmed: [SendableItem], reason: String?)]
    {
        let holdings = try await holdings(of: items.map(\.id))
        return fans.map { fan in
            let held = items.map { holdings.held($0.id, by: fan) }
            let first = held.compactMap { $0 }.min { $0.send.sentAt < $1.send.sentAt }
            let unconfirmed = zip(items, held).filter { item, held in
                held.map { $0.send.itemID == item.id && !$0.send.isConfirmed } ?? false
            }.map(\.0)
            return (
                fan, zip(items, held).filter { $1 == nil }.map(\.0), zip(items, held).filter { $1 != nil }.map(\.0),
                unconfirmed, first?.reason
            )
        }
    }

    /// The fans among `fans` who lack one of `items` by the ledger: the only ones whose chats are worth reading
    /// before a send (reading can only find that a fan has more, never less).
    package func lacking(_ items: [SendableItem], fans: [String]) async throws -> [String] {
        try await plan(items: items, fans: fans).filter { !$0.send.isEmpty }.map(\.fan)
    }

    /// Sends `items` to one fan (the ones the fan lacks) in one message.
    package func send(
        _ items: [SendableItem], to fan: String, text: String?, priceCents: Int?, context: SendContext,
        api: any FanvuePublishing
    ) async throws -> FanSendResult {
        // A fan who has everything (confirmed) costs no API call at all. A claim left unconfirmed by a run that
        // died goes the long way: under the lock, Fanvue is asked whether that message went out.
        let planned = try await plan(items: items, fans: [fan]).first
        if let planned, planned.send.isEmpty, planned.unconfirmed.isEmpty {
            return FanSendResult(fan: fan, sent: [], skipped: items, reason: planned.reason)
        }
        let account = try await api.account
        var context = context
        context.account = account
        let scoped = context
        var result = try await locks.withLock(SendLocks.key(account: account, fan: fan)) {
            try await self.sendLocked(items, to: fan, text: text, priceCents: priceCents, context: scoped, api: api)
        }
        if !result.skipped.isEmpty { result.reason = planned?.reason }
        return result
    }

    /// The body of `send`, for a caller that holds the fan's lock.
    func sendLocked(
        _ items: [SendableItem], to fan: String, text: String?, priceCents: Int?, context: SendContext,
        api: any FanvuePublishing
    ) async throws -> FanSendResult {
        let already = try await store.sends(fan: fan)
        // Under the lock, again: an item the fan has a near-duplicate of is not sent (unless allowed).
        let lookalikes = try await lookalikes(of: items.map(\.id))
        let fresh = items.filter { item in
            already[item.id] == nil && !(lookalikes[item.id] ?? []).contains { already[$0.id] != nil }
        }
        let claimed = Set(try await store.claimSends(fan: fan, items: fresh.map(\.id), priceCents: priceCents, context: context, at: now()))
        // Claimed by a run that died before it heard back (under the lock nobody else can be sending them).
        let unconfirmed = items.filter { item in
            if case .some(.none) = already[item.id] { return true }
            return false
        }
        let outgoing = items.filter { claimed.contains($0.id) || unconfirmed.contains($0) }
        let skipped = items.filter { !outgoing.contains($0) }
        guard !outgoing.isEmpty else { return FanSendResult(fan: fan, sent: [], skipped: skipped) }
        let media = outgoing.map(\.media)
        var uuid: String?
        if !unconfirmed.isEmpty { uuid = try await api.findMessage(fan: fan, mediaUUIDs: media) }
        if uuid == nil {
            do {
                uuid = try await api.sendMessage(fan: fan, text: text, mediaUUIDs: media, priceCents: priceCents)
            } catch let error as any RemoteError where error.statusCode == nil || (error.statusCode ?? 0) >= 500 {
                // The outcome is unknown: look before anything is sent again; the claims stay.
                guard let found = try await api.findMessage(fan: fan, mediaUUIDs: media) else { throw error }
                uuid = found
            } catch let error as any RemoteError {
                // Fanvue refused it (not contactable, invalid media…): nothing went out, so the claims go.
                try await store.releaseSends(fan: fan, items: outgoing.map(\.id))
                return FanSendResult(fan: fan, sent: [], skipped: skipped, error: "\(error)")
            }
        }
        guard let uuid else { return FanSendResult(fan: fan, sent: [], skipped: skipped) }
        try await store.confirmSends(fan: fan, items: outgoing.map(\.id), messageUUID: uuid, massMessageID: nil)
        try await store.append([
            EventRecord(
                kind: "fanvue.message", drop: context.drop, stage: .message,
                message: "sent \(outgoing.count) item\(outgoing.count == 1 ? "" : "s") to fan \(fan) at \(Money.describe(priceCents))",
                data: .object([
                    "fan": .string(fan), "message": .string(uuid), "via": .string(context.via),
                    "items": .array(outgoing.map { .string($0.id.hex) }),
                ]), at: now())
        ])
        return FanSendResult(fan: fan, sent: outgoing, skipped: skipped, messageUUID: uuid)
    }

    /// Why a fan is skipped for an item, from the send the ledger holds: "had it: sent by hand on 2026-11-30".
    package static func reason(_ send: SendRecord) -> String {
        let day = String(Timestamp.format(send.sentAt).prefix(10))
        switch send.via {
        case "manual"?: return "had it: sent by hand on \(day)"
        case "fanvue"?: return "had it: sent through Fanvue (a mass message or an automation) on \(day)"
        case _ where !send.isConfirmed: return "claimed on \(day) by a run that was interrupted"
        case "manifest"?: return "had it: sent by drop \(send.drop ?? "?") on \(day)"
        default: return "had it: sent by elena-run on \(day)\(send.listName.map { " (list \($0))" } ?? "")"
        }
    }
}
