package import ElenaCore
import ElenaEngine
package import Foundation

/// A custom list elena-run keeps on Fanvue with exactly some fans, under a name that is the same every time for the
/// same purpose (so a run killed after making it uses it again). Members are added 100 a call (Fanvue skips those
/// already in, so repeating a call is safe) and removed one by one.
package struct ManagedList: Sendable, Hashable {
    package var name: String
    /// The list, when Fanvue has it already.
    package var existing: FanList?
    /// Its members now (empty when it does not exist).
    package var current: [String]
    /// The members it must have.
    package var wanted: [String]

    /// Fans per member call (Fanvue's maximum).
    package static let membersPerCall = 100

    var missing: [String] {
        let have = Set(current)
        return wanted.filter { !have.contains($0) }
    }

    var extra: [String] {
        let keep = Set(wanted)
        return current.filter { !keep.contains($0) }
    }

    /// The writes making it exact takes.
    package var requests: (create: Int, add: Int, remove: Int) {
        (existing == nil ? 1 : 0, (missing.count + Self.membersPerCall - 1) / Self.membersPerCall, extra.count)
    }

    /// The reads finding it took (its members' pages, when it exists).
    package var reads: Int { existing == nil ? 0 : max(1, (current.count + 49) / 50) }

    /// The list named `name` among `lists`, with its members read when it exists.
    static func find(_ name: String, wanted: [String], in lists: [FanList], api: any FanvueAudiences) async throws -> ManagedList {
        let existing = lists.first { $0.kind == .custom && $0.name == name }
        let current = try await existing.asyncFlatMap { try await api.members(of: $0) } ?? []
        return ManagedList(name: name, existing: existing, current: current, wanted: wanted)
    }

    /// Makes the list exact on Fanvue and returns it.
    func make(api: any FanvueAudiences) async throws -> FanList {
        var list = existing
        if list == nil {
            list = try await api.createCustomList(name: name)
            if list == nil {  // 409: made meanwhile (an answer lost): find it
                list = try await api.lists().first { $0.kind == .custom && $0.name == name }
            }
        }
        guard let list else { throw StageError("Fanvue has no custom list '\(name)' and refused to create it") }
        let missing = self.missing
        for start in stride(from: 0, to: missing.count, by: Self.membersPerCall) {
            _ = try await api.addMembers(Array(missing[start..<min(missing.count, start + Self.membersPerCall)]), to: list)
        }
        for fan in extra { try await api.removeMember(fan, from: list) }
        return list
    }

    /// A name for a purpose and what sets it apart, short enough for Fanvue (100 characters).
    static func name(_ purpose: String, _ parts: [String]) -> String {
        "elena-run: \(purpose) (\(Digest.of(parts.joined(separator: "\n")).hex.prefix(12)))"
    }
}

/// Who gets what when items go to many fans at once: the fans who lack every item get one mass message, the others
/// are left out of it and get only what they lack, one to one. The mass message goes to a Fanvue list minus a custom
/// list of the fans left out, or, for a set of fans elena-run chose, to a custom list of exactly the recipients.
/// When one-to-one messages take no more requests than that, they are used instead.
package struct AudiencePlan: Sendable {
    /// A fan left out of the mass message.
    package struct Excluded: Sendable, Hashable {
        package var fan: String
        /// The items the fan has (or that a dead run claimed).
        package var has: [SendableItem]
        /// Why, for the first of them: "had it: sent by hand on 2026-11-30".
        package var reason: String
        /// What still goes to the fan one to one: the items lacking, and claims to check on Fanvue.
        package var send: [SendableItem]
    }

    /// Who it is for, as people read it: the list's name, or "3 fans".
    package var audienceName: String
    /// The Fanvue list it goes to (nil: a set of fans, reached through `included`).
    package var list: FanList?
    package var items: [SendableItem]
    package var members: Int
    /// The fans the mass message reaches.
    package var recipients: [String]
    package var excluded: [Excluded]
    /// For a set of fans: the custom list of exactly the recipients.
    package var included: ManagedList?
    /// For a list where some fans are left out: the custom list of them.
    package var exclusion: ManagedList?
    /// Scheduled: only a mass message can be.
    package var scheduled: Bool

    /// The writes of the mass message: its lists made exact, and the POST.
    package var massRequests: (create: Int, add: Int, remove: Int, post: Int) {
        var total = (create: 0, add: 0, remove: 0, post: 1)
        for managed in [included, exclusion].compactMap({ $0 }) {
            let requests = managed.requests
            total.create += requests.create
            total.add += requests.add
            total.remove += requests.remove
        }
        return total
    }

    /// Whether the recipients get one-to-one messages: cheaper than a mass message and its list calls (and not
    /// scheduled); a list nobody is left out of always takes the one mass message.
    package var oneToOne: Bool {
        guard !scheduled else { return false }
        if list != nil && exclusion == nil { return false }
        guard included != nil || exclusion != nil else { return true }
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

    /// Reads the plan itself took beyond the members: its custom lists' members.
    package var reads: Int { (included?.reads ?? 0) + (exclusion?.reads ?? 0) }
}

extension Sender {
    /// Who among `fans` lacks every item (`recipients`) and who is left out (a send of any item, or `leaveOut`'s
    /// reason), from the ledger alone.
    func split(_ items: [SendableItem], fans: [String], leaveOut: [String: String]) async throws
        -> (recipients: [String], excluded: [AudiencePlan.Excluded])
    {
        let holdings = try await holdings(of: items.map(\.id))
        var recipients: [String] = []
        var excluded: [AudiencePlan.Excluded] = []
        for fan in fans {
            if let reason = leaveOut[fan] {
                excluded.append(AudiencePlan.Excluded(fan: fan, has: [], reason: reason, send: []))
                continue
            }
            let held = items.map { holdings.held($0.id, by: fan) }
            guard held.contains(where: { $0 != nil }) else {
                recipients.append(fan)
                continue
            }
            let has = zip(items, held).filter { $1 != nil }.map(\.0)
            let lacking = zip(items, held).filter { $1 == nil }.map(\.0)
            let unconfirmed = zip(items, held).filter { item, held in
                held.map { $0.send.itemID == item.id && !$0.send.isConfirmed } ?? false
            }.map(\.0)
            let first = held.compactMap { $0 }.min { $0.send.sentAt < $1.send.sentAt }
            excluded.append(
                AudiencePlan.Excluded(fan: fan, has: has, reason: first?.reason ?? "had it", send: lacking + unconfirmed))
        }
        return (recipients, excluded)
    }

    /// The plan for a Fanvue list's members: the mass message to the list, leaving out (through a custom list kept
    /// exact) the members who have an item. `allLists` are the lists Fanvue has (to find that custom list).
    package func audience(
        _ items: [SendableItem], list: FanList, members: [String], account: String, api: any FanvueAudiences,
        allLists: [FanList], leaveOut: [String: String] = [:], scheduled: Bool = false
    ) async throws -> AudiencePlan {
        let (recipients, excluded) = try await split(items, fans: members, leaveOut: leaveOut)
        var plan = AudiencePlan(
            audienceName: list.name, list: list, items: items, members: members.count, recipients: recipients,
            excluded: excluded, included: nil, exclusion: nil, scheduled: scheduled)
        if !excluded.isEmpty && !recipients.isEmpty {
            let name = ManagedList.name("already have", [account, list.kind.rawValue, list.id] + items.map(\.id.hex).sorted())
            plan.exclusion = try await ManagedList.find(name, wanted: excluded.map(\.fan), in: allLists, api: api)
        }
        return plan
    }

    /// The plan for a set of fans elena-run chose: when a mass message is cheaper (or it is scheduled), it goes to a
    /// custom list of exactly the fans who lack every item.
    package func audience(
        _ items: [SendableItem], fans: [String], account: String, api: any FanvueAudiences,
        leaveOut: [String: String] = [:], scheduled: Bool = false
    ) async throws -> AudiencePlan {
        let (recipients, excluded) = try await split(items, fans: fans, leaveOut: leaveOut)
        var plan = AudiencePlan(
            audienceName: "\(fans.count) fan\(fans.count == 1 ? "" : "s")", list: nil, items: items, members: fans.count,
            recipients: recipients, excluded: excluded, included: nil, exclusion: nil, scheduled: scheduled)
        // A new list, one member call and the POST: fewer recipients than that go one to one without looking.
        if !recipients.isEmpty && (scheduled || recipients.count > 3) {
            let name = ManagedList.name("audience", [account] + items.map(\.id.hex).sorted() + recipients.sorted())
            plan.included = try await ManagedList.find(name, wanted: recipients, in: try await api.lists(), api: api)
        }
        return plan
    }

    /// Sends `items` to everyone in a list: see `AudiencePlan`. Members are read just before sending, under every
    /// member's lock; `before` runs there too, given the members who lack an item by the ledger (to read their chats).
    package func send(
        _ items: [SendableItem], toList list: FanList, text: String?, priceCents: Int?, at scheduledAt: Date? = nil,
        context: SendContext, api: any FanvueAudiences, allLists: [FanList], leaveOut: [String: String] = [:],
        before: @escaping @Sendable ([String]) async throws -> Void = { _ in },
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> [FanSendResult] {
        var context = context
        context.listName = list.name
        return try await sendToMany(
            items, fans: try await api.members(of: list), text: text, priceCents: priceCents, at: scheduledAt,
            context: context, api: api, leaveOut: leaveOut, before: before, progress: progress,
            resuming: { $0.list.id == list.id }
        ) { members, account in
            try await self.audience(
                items, list: list, members: members, account: account, api: api, allLists: allLists, leaveOut: leaveOut,
                scheduled: scheduledAt != nil)
        }
    }

    /// Sends `items` to a set of fans (a drop's `message.to`, or `send --to` with several): one mass message to a
    /// custom list of exactly those who lack every item when that is cheaper than one message each, or scheduled.
    package func send(
        _ items: [SendableItem], toFans fans: [String], text: String?, priceCents: Int?, at scheduledAt: Date? = nil,
        context: SendContext, api: any FanvueAudiences, leaveOut: [String: String] = [:],
        before: @escaping @Sendable ([String]) async throws -> Void = { _ in },
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> [FanSendResult] {
        var seen: Set<String> = []
        return try await sendToMany(
            items, fans: fans.filter { seen.insert($0).inserted }, text: text, priceCents: priceCents, at: scheduledAt,
            context: context, api: api, leaveOut: leaveOut, before: before, progress: progress,
            resuming: { $0.list.name.hasPrefix("elena-run: audience") }
        ) { fans, account in
            try await self.audience(
                items, fans: fans, account: account, api: api, leaveOut: leaveOut, scheduled: scheduledAt != nil)
        }
    }

    /// The body of both: under every fan's lock, read the chats of those who lack an item (`before`), finish a
    /// campaign a run left pending (`resuming` picks those of this audience), plan, and carry the plan out.
    private func sendToMany(
        _ items: [SendableItem], fans: [String], text: String?, priceCents: Int?, at scheduledAt: Date?,
        context: SendContext, api: any FanvueAudiences, leaveOut: [String: String],
        before: @escaping @Sendable ([String]) async throws -> Void, progress: @escaping @Sendable (Int, Int) -> Void,
        resuming: @escaping @Sendable (CampaignRecord) -> Bool,
        plan: @escaping @Sendable ([String], String) async throws -> AudiencePlan
    ) async throws -> [FanSendResult] {
        guard !fans.isEmpty else { return [] }
        let account = try await api.account
        var context = context
        context.account = account
        let scoped = context
        return try await locks.withLocks(fans.map { SendLocks.key(account: account, fan: $0) }) {
            try await before(try await self.lacking(items, fans: fans.filter { leaveOut[$0] == nil }))
            try await self.resumeCampaigns(items, account: account, api: api, matches: resuming)
            return try await self.carryOut(
                try await plan(fans, account), text: text, priceCents: priceCents, at: scheduledAt, context: scoped, api: api,
                progress: progress)
        }
    }

    /// Carries out a plan, under the fans' locks.
    func carryOut(
        _ plan: AudiencePlan, text: String?, priceCents: Int?, at scheduledAt: Date?, context: SendContext,
        api: any FanvueAudiences, progress: @escaping @Sendable (Int, Int) -> Void
    ) async throws -> [FanSendResult] {
        var results: [FanSendResult] = []
        let total = plan.recipients.count + plan.excluded.count
        var done = 0
        if !plan.recipients.isEmpty {
            if plan.oneToOne {
                for fan in plan.recipients {
                    results.append(
                        try await sendLocked(plan.items, to: fan, text: text, priceCents: priceCents, context: context, api: api))
                    done += 1
                    progress(done, total)
                }
            } else {
                results += try await massSend(plan, text: text, priceCents: priceCents, at: scheduledAt, context: context, api: api)
                done += plan.recipients.count
            }
        }
        for entry in plan.excluded {
            if entry.send.isEmpty {
                results.append(FanSendResult(fan: entry.fan, sent: [], skipped: entry.has, reason: entry.reason))
            } else {
                // The items this fan lacks, and any claim a dead run left unconfirmed (checked on Fanvue first).
                var result = try await sendLocked(entry.send, to: entry.fan, text: text, priceCents: priceCents, context: context, api: api)
                result.skipped += entry.has.filter { !entry.send.contains($0) }
                result.reason = entry.reason
                results.append(result)
            }
            done += 1
            progress(done, total)
        }
        return results
    }

    /// Finishes a campaign with these items that a run left pending (claims made, no answer) and `matches` picks: if
    /// Fanvue lists a mass message with the same media made since, it went out and is confirmed; otherwise nothing
    /// went out and its claims are given back, so the plan that follows sends to those fans again.
    func resumeCampaigns(
        _ items: [SendableItem], account: String, api: any FanvueAudiences, matches: @escaping @Sendable (CampaignRecord) -> Bool
    ) async throws {
        let media = Set(items.map(\.media))
        let pending = { (campaign: CampaignRecord) in
            campaign.status == .pending && Set(campaign.mediaUUIDs) == media && matches(campaign)
        }
        guard try await store.campaigns(account: account).contains(where: pending) else { return }
        _ = try await CampaignTracker(store: store, now: now).refresh(
            account: account, states: try await api.massMessages(), closeAbsent: true, include: pending)
    }

    /// The mass message of a plan: its lists made exact, the campaign and its claims recorded, one POST.
    func massSend(
        _ plan: AudiencePlan, text: String?, priceCents: Int?, at scheduledAt: Date?, context: SendContext,
        api: any FanvueAudiences
    ) async throws -> [FanSendResult] {
        let account = context.account ?? ""
        var target = plan.list
        if target == nil { target = try await plan.included?.make(api: api) }
        guard let target else { throw StageError("internal error: a mass message with no list (a bug)") }
        let excludedList = try await plan.exclusion?.make(api: api)
        let campaign = CampaignRecord(
            id: UUID().uuidString.lowercased(), account: account, list: target, exclusionList: excludedList?.id,
            excluded: plan.excluded.count, intended: plan.recipients.count, mediaUUIDs: plan.items.map(\.media),
            text: text, priceCents: priceCents, scheduledAt: scheduledAt, massMessageID: nil, status: .pending,
            drop: context.drop, via: context.via, createdAt: now(), updatedAt: now())
        var claimContext = context
        claimContext.campaign = campaign.id
        claimContext.listName = plan.list?.name
        try await store.claimCampaign(
            campaign, fans: plan.recipients, items: plan.items.map(\.id), priceCents: priceCents, context: claimContext)
        let answer: (id: String, recipients: Int)
        do {
            answer = try await api.sendMassMessage(
                MassMessageRequest(
                    included: target, excluded: excludedList.map { [$0] } ?? [], text: text,
                    mediaUUIDs: plan.items.map(\.media), priceCents: priceCents, scheduledAt: scheduledAt))
        } catch let error as any RemoteError where error.statusCode != nil && (error.statusCode ?? 0) < 500 {
            _ = try await store.releaseCampaignSends(id: campaign.id)
            var refused = campaign
            refused.status = .refused
            try await store.saveCampaign(refused)
            throw StageError("Fanvue refused the mass message to \(plan.audienceName): \(error)")
        } catch {
            // Whether it went out is unknown: the claims stay, so nothing is ever sent twice; the next send to these
            // fans (or `elena-run sync`) looks for it among Fanvue's mass messages.
            throw StageError(
                "the mass message to \(plan.audienceName) may or may not have gone out (\(error)); its \(plan.recipients.count) "
                    + "fans are recorded as sent so none gets the items twice; the next send to them checks Fanvue's mass messages")
        }
        try await store.confirmCampaign(
            id: campaign.id, massMessageID: answer.id, status: scheduledAt == nil ? "SENT" : "SCHEDULED",
            recipients: answer.recipients, at: now())
        let items = plan.items
        try await store.append([
            EventRecord(
                kind: "fanvue.mass_message", drop: context.drop, stage: .message,
                message: "\(scheduledAt == nil ? "sent" : "scheduled") \(items.count) item\(items.count == 1 ? "" : "s") to \(plan.audienceName) "
                    + "(\(plan.recipients.count) fans, \(plan.excluded.count) left out) at \(Money.describe(priceCents))",
                data: .object([
                    "list": .string(target.name), "mass_message": .string(answer.id), "campaign": .string(campaign.id),
                    "fans": .int(plan.recipients.count), "excluded": .int(plan.excluded.count),
                    "fanvue_recipients": .int(answer.recipients), "items": .array(items.map { .string($0.id.hex) }),
                ]), at: now())
        ])
        return plan.recipients.map { FanSendResult(fan: $0, sent: items, skipped: [], massMessageID: answer.id) }
    }
}
