package import ElenaCore
package import ElenaEngine
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

    /// Creates a result.
    package init(
        fan: String, sent: [SendableItem], skipped: [SendableItem], messageUUID: String? = nil,
        massMessageID: String? = nil, error: String? = nil
    ) {
        self.fan = fan
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

    /// Creates a sender.
    package init(store: any RunStore, locks: any WorkLocks, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.locks = locks
        self.now = now
    }

    /// Which of `items` each fan still lacks, from the ledger alone (no network): the dry run and the fast path.
    /// `skip` holds every item the fan has a send of, `unconfirmed` those among them still only claimed.
    package func plan(items: [SendableItem], fans: [String]) async throws
        -> [(fan: String, send: [SendableItem], skip: [SendableItem], unconfirmed: [SendableItem])]
    {
        let existing = try await store.sends(items: items.map(\.id))
        var had: [String: Set<Digest>] = [:]
        var claimedOnly: [String: Set<Digest>] = [:]
        for send in existing {
            had[send.fan, default: []].insert(send.itemID)
            if !send.isConfirmed { claimedOnly[send.fan, default: []].insert(send.itemID) }
        }
        return fans.map { fan in
            let owned = had[fan] ?? []
            let pending = claimedOnly[fan] ?? []
            return (
                fan, items.filter { !owned.contains($0.id) }, items.filter { owned.contains($0.id) },
                items.filter { pending.contains($0.id) }
            )
        }
    }

    /// Sends `items` to one fan (the ones the fan lacks) in one message.
    package func send(
        _ items: [SendableItem], to fan: String, text: String?, priceCents: Int?, context: SendContext,
        api: any FanvuePublishing
    ) async throws -> FanSendResult {
        // A fan who has everything (confirmed) costs no API call at all. A claim left unconfirmed by a run that
        // died goes the long way: under the lock, Fanvue is asked whether that message went out.
        if let first = try await plan(items: items, fans: [fan]).first, first.send.isEmpty, first.unconfirmed.isEmpty {
            return FanSendResult(fan: fan, sent: [], skipped: items)
        }
        let account = try await api.account
        var context = context
        context.account = account
        let scoped = context
        return try await locks.withLock(SendLocks.key(account: account, fan: fan)) {
            try await self.sendLocked(items, to: fan, text: text, priceCents: priceCents, context: scoped, api: api)
        }
    }

    /// The body of `send`, for a caller that holds the fan's lock.
    func sendLocked(
        _ items: [SendableItem], to fan: String, text: String?, priceCents: Int?, context: SendContext,
        api: any FanvuePublishing
    ) async throws -> FanSendResult {
        let already = try await store.sends(fan: fan)
        let fresh = items.filter { already[$0.id] == nil }
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

    /// Sends `items` to everyone in a list. When no member has any of them, one mass message carries them all;
    /// otherwise each member gets a one-to-one message with just the items they lack, because a mass message
    /// cannot leave single fans out. Members are read just before sending, under every member's lock.
    package func send(
        _ items: [SendableItem], toList list: FanList, text: String?, priceCents: Int?, context: SendContext,
        api: any FanvueSales, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> [FanSendResult] {
        let account = try await api.account
        var context = context
        context.account = account
        context.listName = list.name
        let scoped = context
        let members = try await api.members(of: list)
        guard !members.isEmpty else { return [] }
        return try await locks.withLocks(members.map { SendLocks.key(account: account, fan: $0) }) {
            let plan = try await self.plan(items: items, fans: members)
            if plan.allSatisfy({ $0.skip.isEmpty }) {
                return try await self.massSend(
                    items, to: list, members: members, text: text, priceCents: priceCents, context: scoped, api: api)
            }
            var results: [FanSendResult] = []
            for (index, entry) in plan.enumerated() {
                if entry.send.isEmpty && entry.unconfirmed.isEmpty {
                    results.append(FanSendResult(fan: entry.fan, sent: [], skipped: entry.skip))
                } else {
                    // The items this fan lacks, and any claim a dead run left unconfirmed (checked on Fanvue first).
                    let outgoing = entry.send + entry.unconfirmed
                    var result = try await self.sendLocked(
                        outgoing, to: entry.fan, text: text, priceCents: priceCents, context: scoped, api: api)
                    result.skipped += entry.skip.filter { !outgoing.contains($0) }
                    results.append(result)
                }
                progress(index + 1, plan.count)
            }
            return results
        }
    }

    private func massSend(
        _ items: [SendableItem], to list: FanList, members: [String], text: String?, priceCents: Int?,
        context: SendContext, api: any FanvueSales
    ) async throws -> [FanSendResult] {
        for fan in members {
            _ = try await store.claimSends(fan: fan, items: items.map(\.id), priceCents: priceCents, context: context, at: now())
        }
        let id: String
        do {
            id = try await api.sendMassMessage(to: list, text: text, mediaUUIDs: items.map(\.media), priceCents: priceCents)
        } catch let error as any RemoteError where error.statusCode != nil && (error.statusCode ?? 0) < 500 {
            for fan in members { try await store.releaseSends(fan: fan, items: items.map(\.id)) }
            throw StageError("Fanvue refused the mass message to \(list.name): \(error)")
        } catch {
            // Whether it went out is unknown and Fanvue cannot list mass messages: the claims stay, so nothing is
            // ever sent twice; `elena-run sync` links what Fanvue shows.
            throw StageError(
                "the mass message to \(list.name) may or may not have gone out (\(error)); its \(members.count) fans "
                    + "are recorded as sent so none gets the items twice: check the chats on Fanvue")
        }
        for fan in members {
            try await store.confirmSends(fan: fan, items: items.map(\.id), messageUUID: nil, massMessageID: id)
        }
        try await store.append([
            EventRecord(
                kind: "fanvue.mass_message", drop: context.drop, stage: .message,
                message: "sent \(items.count) item\(items.count == 1 ? "" : "s") to list \(list.name) (\(members.count) fans) at \(Money.describe(priceCents))",
                data: .object([
                    "list": .string(list.name), "mass_message": .string(id), "fans": .int(members.count),
                    "items": .array(items.map { .string($0.id.hex) }),
                ]), at: now())
        ])
        return members.map { FanSendResult(fan: $0, sent: items, skipped: [], massMessageID: id) }
    }
}
