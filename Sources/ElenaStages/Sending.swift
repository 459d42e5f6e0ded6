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

    /// Creates a sender.
    package init(store: any RunStore, locks: any WorkLocks, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.locks = locks
        self.now = now
    }

    /// Which of `items` each fan still lacks, from the ledger alone (no network): the dry run and the fast path.
    /// `skip` holds every item the fan has a send of, `unconfirmed` those among them still only claimed, `reason`
    /// why the first of them is skipped.
    package func plan(items: [SendableItem], fans: [String]) async throws
        -> [(fan: String, send: [SendableItem], skip: [SendableItem], unconfirmed: [SendableItem], reason: String?)]
    {
        let existing = try await store.sends(items: items.map(\.id))
        var had: [String: [Digest: SendRecord]] = [:]
        for send in existing { had[send.fan, default: [:]][send.itemID] = send }
        return fans.map { fan in
            let owned = had[fan] ?? [:]
            let first = owned.values.min { $0.sentAt < $1.sentAt }
            return (
                fan, items.filter { owned[$0.id] == nil }, items.filter { owned[$0.id] != nil },
                items.filter { owned[$0.id].map { !$0.isConfirmed } ?? false }, first.map(Self.reason)
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

    /// Who in a list gets what, from the ledger and the list's exclusion list: the plan a list send carries out and
    /// its dry run shows.
    /// `leaveOut` names fans to leave out whatever they have, with the reason (a chargeback…).
    package func audience(
        _ items: [SendableItem], list: FanList, members: [String], account: String, api: any FanvueAudiences,
        allLists: [FanList], leaveOut: [String: String] = [:]
    ) async throws -> AudiencePlan {
        let existing = try await store.sends(items: items.map(\.id))
        var byFan: [String: [Digest: SendRecord]] = [:]
        for send in existing { byFan[send.fan, default: [:]][send.itemID] = send }
        var recipients: [String] = []
        var excluded: [AudiencePlan.Excluded] = []
        for fan in members {
            if let reason = leaveOut[fan] {
                excluded.append(AudiencePlan.Excluded(fan: fan, has: [], reason: reason, send: []))
                continue
            }
            guard let owned = byFan[fan], !owned.isEmpty else {
                recipients.append(fan)
                continue
            }
            let has = items.filter { owned[$0.id] != nil }
            let lacking = items.filter { owned[$0.id] == nil }
            let unconfirmed = items.filter { owned[$0.id].map { !$0.isConfirmed } ?? false }
            let first = has.compactMap { owned[$0.id] }.min { $0.sentAt < $1.sentAt }
            excluded.append(
                AudiencePlan.Excluded(
                    fan: fan, has: has, reason: first.map(Self.reason) ?? "had it", send: lacking + unconfirmed))
        }
        let name = AudiencePlan.exclusionListName(account: account, list: list, items: items)
        let exclusion = allLists.first { $0.kind == .custom && $0.name == name }
        var current: [String]?
        if let exclusion, !excluded.isEmpty, !recipients.isEmpty { current = try await api.members(of: exclusion) }
        return AudiencePlan(
            list: list, items: items, members: members.count, recipients: recipients, excluded: excluded,
            exclusionListName: name, exclusionList: exclusion, exclusionMembers: current)
    }

    /// Sends `items` to everyone in a list who has none of them in one mass message, leaving out (through a custom
    /// list of them, kept exact) the members who have any; those get a one-to-one message with only what they
    /// lack. When one-to-one messages cost fewer requests than the list calls, they are used instead. Members are
    /// read just before sending, under every member's lock; `before` runs there too, given the members who lack
    /// an item by the ledger (to read their chats).
    package func send(
        _ items: [SendableItem], toList list: FanList, text: String?, priceCents: Int?, at scheduledAt: Date? = nil,
        context: SendContext, api: any FanvueAudiences, allLists: [FanList], leaveOut: [String: String] = [:],
        before: @escaping @Sendable ([String]) async throws -> Void = { _ in },
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> [FanSendResult] {
        let account = try await api.account
        var context = context
        context.account = account
        context.listName = list.name
        let scoped = context
        let members = try await api.members(of: list)
        guard !members.isEmpty else { return [] }
        return try await locks.withLocks(members.map { SendLocks.key(account: account, fan: $0) }) {
            try await before(try await self.lacking(items, fans: members.filter { leaveOut[$0] == nil }))
            try await self.resumeCampaigns(items, list: list, account: account, api: api)
            var results: [FanSendResult] = []
            let plan = try await self.audience(
                items, list: list, members: members, account: account, api: api, allLists: allLists, leaveOut: leaveOut)
            var done = 0
            if !plan.recipients.isEmpty {
                if plan.oneToOne {
                    for fan in plan.recipients {
                        results.append(
                            try await self.sendLocked(items, to: fan, text: text, priceCents: priceCents, context: scoped, api: api))
                        done += 1
                        progress(done, plan.recipients.count + plan.excluded.count)
                    }
                } else {
                    results += try await self.massSend(
                        plan, text: text, priceCents: priceCents, at: scheduledAt, context: scoped, api: api)
                    done += plan.recipients.count
                }
            }
            for entry in plan.excluded {
                if entry.send.isEmpty {
                    results.append(FanSendResult(fan: entry.fan, sent: [], skipped: entry.has, reason: entry.reason))
                } else {
                    // The items this fan lacks, and any claim a dead run left unconfirmed (checked on Fanvue first).
                    var result = try await self.sendLocked(
                        entry.send, to: entry.fan, text: text, priceCents: priceCents, context: scoped, api: api)
                    result.skipped += entry.has.filter { !entry.send.contains($0) }
                    result.reason = entry.reason
                    results.append(result)
                }
                done += 1
                progress(done, plan.recipients.count + plan.excluded.count)
            }
            return results
        }
    }

    /// Finishes a campaign to this list with these items that a run left pending (claims made, no answer): if
    /// Fanvue lists a mass message with the same media made since, it went out and is confirmed; otherwise nothing
    /// went out and its claims are given back, so the plan that follows sends to those fans again.
    func resumeCampaigns(_ items: [SendableItem], list: FanList, account: String, api: any FanvueAudiences) async throws {
        let media = Set(items.map(\.media))
        func pending(_ campaign: CampaignRecord) -> Bool {
            campaign.status == "PENDING" && campaign.list.id == list.id && Set(campaign.mediaUUIDs) == media
        }
        guard try await store.campaigns(account: account).contains(where: pending) else { return }
        _ = try await CampaignTracker(store: store, now: now).refresh(
            account: account, states: try await api.massMessages(), closeAbsent: true, include: pending)
    }

    /// The mass message of a plan: the exclusion list made exact, the campaign and its claims recorded, one POST.
    private func massSend(
        _ plan: AudiencePlan, text: String?, priceCents: Int?, at scheduledAt: Date?, context: SendContext,
        api: any FanvueAudiences
    ) async throws -> [FanSendResult] {
        let account = context.account ?? ""
        var excludedLists: [FanList] = []
        if !plan.excluded.isEmpty {
            excludedLists = [try await exactExclusionList(plan, api: api)]
        }
        let campaign = CampaignRecord(
            id: UUID().uuidString.lowercased(), account: account, list: plan.list, exclusionList: excludedLists.first?.id,
            excluded: plan.excluded.count, intended: plan.recipients.count, mediaUUIDs: plan.items.map(\.media),
            text: text, priceCents: priceCents, scheduledAt: scheduledAt, massMessageID: nil, status: "PENDING",
            drop: context.drop, via: context.via, createdAt: now(), updatedAt: now())
        var claimContext = context
        claimContext.campaign = campaign.id
        try await store.claimCampaign(
            campaign, fans: plan.recipients, items: plan.items.map(\.id), priceCents: priceCents, context: claimContext)
        let answer: (id: String, recipients: Int)
        do {
            answer = try await api.sendMassMessage(
                MassMessageRequest(
                    included: plan.list, excluded: excludedLists, text: text, mediaUUIDs: plan.items.map(\.media),
                    priceCents: priceCents, scheduledAt: scheduledAt))
        } catch let error as any RemoteError where error.statusCode != nil && (error.statusCode ?? 0) < 500 {
            _ = try await store.releaseCampaignSends(id: campaign.id)
            var refused = campaign
            refused.status = "REFUSED"
            try await store.saveCampaign(refused)
            throw StageError("Fanvue refused the mass message to \(plan.list.name): \(error)")
        } catch {
            // Whether it went out is unknown: the claims stay, so nothing is ever sent twice; the next send to this
            // list (or `elena-run sync`) looks for it among Fanvue's mass messages.
            throw StageError(
                "the mass message to \(plan.list.name) may or may not have gone out (\(error)); its \(plan.recipients.count) "
                    + "fans are recorded as sent so none gets the items twice; the next send to this list checks Fanvue's mass messages")
        }
        let status = scheduledAt == nil ? "SENT" : "SCHEDULED"
        try await store.confirmCampaign(
            id: campaign.id, massMessageID: answer.id, status: status, recipients: answer.recipients, at: now())
        let items = plan.items
        try await store.append([
            EventRecord(
                kind: "fanvue.mass_message", drop: context.drop, stage: .message,
                message: "\(scheduledAt == nil ? "sent" : "scheduled") \(items.count) item\(items.count == 1 ? "" : "s") to list \(plan.list.name) "
                    + "(\(plan.recipients.count) fans, \(plan.excluded.count) left out) at \(Money.describe(priceCents))",
                data: .object([
                    "list": .string(plan.list.name), "mass_message": .string(answer.id), "campaign": .string(campaign.id),
                    "fans": .int(plan.recipients.count), "excluded": .int(plan.excluded.count),
                    "fanvue_recipients": .int(answer.recipients), "items": .array(items.map { .string($0.id.hex) }),
                ]), at: now())
        ])
        return plan.recipients.map { FanSendResult(fan: $0, sent: items, skipped: [], massMessageID: answer.id) }
    }

    /// The plan's exclusion list on Fanvue, holding exactly the fans it leaves out: found by its name (a killed run
    /// made it already) or created, then members added (100 a call; Fanvue skips those already in) and removed.
    private func exactExclusionList(_ plan: AudiencePlan, api: any FanvueAudiences) async throws -> FanList {
        var list = plan.exclusionList
        if list == nil {
            list = try await api.createCustomList(name: plan.exclusionListName)
            if list == nil {  // 409: made meanwhile (a lost answer); find it
                list = try await api.lists().first { $0.kind == .custom && $0.name == plan.exclusionListName }
            }
        }
        guard let list else { throw StageError("Fanvue has no custom list '\(plan.exclusionListName)' and refused to create it") }
        let current = Set(plan.exclusionMembers ?? [])
        let wanted = plan.excluded.map(\.fan)
        let missing = wanted.filter { !current.contains($0) }
        for start in stride(from: 0, to: missing.count, by: AudiencePlan.membersPerCall) {
            _ = try await api.addMembers(Array(missing[start..<min(missing.count, start + AudiencePlan.membersPerCall)]), to: list)
        }
        let keep = Set(wanted)
        for fan in (plan.exclusionMembers ?? []) where !keep.contains(fan) { try await api.removeMember(fan, from: list) }
        return list
    }
}

/// Who in a list gets what: the fans who lack every item get one mass message, the others are left out of it
/// (through a custom list of them) and get only what they lack, one to one.
package struct AudiencePlan: Sendable {
    /// A member left out of the mass message.
    package struct Excluded: Sendable, Hashable {
        package var fan: String
        /// The items the fan has (or that a dead run claimed).
        package var has: [SendableItem]
        /// Why, for the first of them: "had it: sent by hand on 2026-11-30".
        package var reason: String
        /// What still goes to the fan one to one: the items lacking, and claims to check on Fanvue.
        package var send: [SendableItem]
    }

    /// Fans per member call (Fanvue's maximum).
    package static let membersPerCall = 100

    package var list: FanList
    package var items: [SendableItem]
    package var members: Int
    /// The fans the mass message reaches.
    package var recipients: [String]
    package var excluded: [Excluded]
    package var exclusionListName: String
    /// The exclusion list if Fanvue has it already, and its members now.
    package var exclusionList: FanList?
    package var exclusionMembers: [String]?

    /// The name of the custom list that leaves out the fans who have some of `items` when sending them to `list`:
    /// the same every time, so a run killed after making it uses it again.
    package static func exclusionListName(account: String, list: FanList, items: [SendableItem]) -> String {
        let key = ([account, list.kind.rawValue, list.id] + items.map(\.id.hex).sorted()).joined(separator: "\n")
        return "elena-run: already have (\(Digest.of(key).hex.prefix(12)))"
    }

    /// Requests to Fanvue that the list calls of the mass message take: making the exclusion list, its member
    /// changes, and the POST.
    package var massRequests: (create: Int, add: Int, remove: Int, post: Int) {
        guard !excluded.isEmpty else { return (0, 0, 0, 1) }
        let current = Set(exclusionMembers ?? [])
        let wanted = Set(excluded.map(\.fan))
        let add = wanted.subtracting(current).count
        return (
            exclusionList == nil ? 1 : 0, (add + Self.membersPerCall - 1) / Self.membersPerCall,
            current.subtracting(wanted).count, 1
        )
    }

    /// Whether one-to-one messages to the recipients cost no more requests than the mass message and its list.
    package var oneToOne: Bool {
        guard !excluded.isEmpty else { return false }
        let mass = massRequests
        return recipients.count <= mass.create + mass.add + mass.remove + mass.post
    }

    /// Writes the plan makes: the mass message's (or the one-to-one messages to its recipients) and one message per
    /// left-out fan who lacks an item.
    package var writes: Int {
        let partial = excluded.filter { !$0.send.isEmpty }.count
        guard !recipients.isEmpty else { return partial }
        if oneToOne { return recipients.count + partial }
        let mass = massRequests
        return mass.create + mass.add + mass.remove + mass.post + partial
    }
}
