internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation

/// `elena-run send <items…> --to <fan | list>`.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send approved items as a pay-per-view message to a fan or a list, never twice to anyone.",
        discussion: """
            Items: item ids (or unique prefixes of at least 6 characters, as `status` shows them), file names \
            (the original's, ComfyUI_00004_.png, or a crop's), drop:NAME (every uploaded item of a drop) or tag:NAME. Only items a person approved and that were uploaded to \
            Fanvue can be sent.

            --to takes a fan's uuid (one message to that fan) or a list: a smart list (subscribers, followers, \
            auto_renewing… as Fanvue lists them) or a custom list's name or uuid. The members who have none of the \
            items get one mass message; the members who have some are left out of it through a custom list \
            elena-run keeps on Fanvue ("elena-run: already have (…)"), and get a message with only what they lack. \
            When one-to-one messages take fewer requests than that, they are used instead.

            Every fan who already has an item is skipped and told why, by any path: a drop's message, an earlier \
            send, another runner, or a message the creator sent by hand in Fanvue (the chats of the fans concerned \
            are read first when the ledger has not seen them for 15 minutes; --offline skips that). A fan who has a \
            near-duplicate of an item (the same picture in another file: a neighbouring seed, a recut, a re-saved \
            copy) is skipped for it too, unless --allow-similar. \
            --dry-run shows who would get what, who is left out and why, and how many requests it takes.

            --at schedules a list's mass message (`elena-run unsend` takes it back before or after it goes out). \
            --skip-chargebacks leaves out every fan who charged back a purchase (as `elena-run sync` found them).

            Examples:
              elena-run send 3fa2c1 --to 2b0e6c1e-0a4f-4c36-9c8e-5d1f8d3a7e21 --price 9.99
              elena-run send drop:drop-03 --to subscribers --price 12 --dry-run
              elena-run send tag:red --to VIP --price 15 --at 2026-12-24T18:00:00Z
            """)

    @Argument(help: ArgumentHelp("Items: id prefixes, file names, drop:NAME or tag:NAME.", valueName: "item"))
    var selection: [String]

    @Option(name: .long, help: ArgumentHelp("A fan's uuid, or a list's name or id.", valueName: "fan|list"))
    var to: String

    @Option(name: .long, help: ArgumentHelp("The price in dollars (at least 3.00). Default: the items' own prices, summed.", valueName: "amount"))
    var price: String?

    @Flag(name: .long, help: "Send without a price (a free message).")
    var free = false

    @Option(name: .long, help: ArgumentHelp("The message text (the AI disclosure is added unless it is there).", valueName: "text"))
    var text: String?

    @Option(name: .long, help: ArgumentHelp("Send a list's mass message at this time (ISO 8601, in the future).", valueName: "time"))
    var at: String?

    @Flag(name: .long, help: "Do not read the fans' chats on Fanvue first: trust the ledger as it is.")
    var offline = false

    @Flag(
        name: .long,
        help: "Also send a fan a picture they have a near-duplicate of (a neighbouring seed, a recut, a re-saved copy); never the same item twice.")
    var allowSimilar = false

    @Flag(name: .long, help: "Leave out fans who charged back a purchase (as of the last sync).")
    var skipChargebacks = false

    @Flag(name: .long, help: "Show who would get what; send nothing, change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if selection.isEmpty { throw ValidationError("name at least one item (id prefix, drop:NAME or tag:NAME)") }
        if free && price != nil { throw ValidationError("--free and --price cannot go together") }
        if let at {
            guard let date = Timestamp.parse(at) else {
                throw ValidationError("--at must be a time such as 2026-12-24T18:00:00Z, not '\(at)'")
            }
            if date <= Date() { throw ValidationError("--at must be in the future, not \(at)") }
        }
        let parts = to.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count > 1, let bad = parts.first(where: { !UUIDText.isUUID($0) }) {
            throw ValidationError("--to with commas takes fan uuids only; '\(bad)' is not one")
        }
        if let price {
            guard let cents = Money.parse(price) else { throw ValidationError("--price must be an amount in dollars such as 9.99, not '\(price)'") }
            if cents < 300 { throw ValidationError("--price must be at least 3.00 (Fanvue's minimum), not \(price)") }
        }
        for entry in selection where !entry.hasPrefix("drop:") && !entry.hasPrefix("tag:") {
            do {
                _ = try ItemLookup.reference(entry)
            } catch {
                throw ValidationError(
                    "'\(entry)' is not an item id prefix (6+ hexadecimal characters), a file name, drop:NAME or tag:NAME")
            }
        }
    }

    /// Why an item has no Fanvue media to send, from where it stands.
    static func whyNotOnFanvue(_ item: ItemRecord) -> String {
        switch item.status {
        case .published:
            return "published to a folder, not to Fanvue (only a drop with 'publish.to: fanvue' uploads it)"
        case .approved: return "approved but not uploaded yet: run its drop (\(item.drop))"
        case .rejected: return "rejected in review"
        case .failed: return "its drop failed on it: run its drop (\(item.drop)) and see the error"
        case .ingested, .cropped, .inReview:
            return "waits for review: approve it, then run its drop (\(item.drop))"
        }
    }

    /// The items named, resolved against the ledger; unknown or not-yet-uploaded ones are errors naming them.
    static func resolve(_ selection: [String], store: any RunStore) async throws -> [ItemRecord] {
        let all = try await store.items(drop: nil)
        var chosen: [ItemRecord] = []
        var problems: [String] = []
        for entry in selection {
            let matches: [ItemRecord]
            if entry.hasPrefix("drop:") {
                let drop = String(entry.dropFirst(5))
                matches = all.filter { $0.drop == drop }
                if matches.isEmpty { problems.append("\(entry): no items in a drop named '\(drop)'") }
            } else if entry.hasPrefix("tag:") {
                let tag = String(entry.dropFirst(4))
                matches = all.filter { $0.tags.contains(tag) }
                if matches.isEmpty { problems.append("\(entry): no item has the tag '\(tag)'") }
            } else if case .name(let name)? = try? ItemLookup.reference(entry) {
                matches = try await store.items(named: name)
                if matches.isEmpty { problems.append("\(entry): no item is named so (neither an original nor a crop)") }
                if matches.count > 1 {
                    problems.append("\(entry): names \(matches.count) items; give one of their ids:\n" + ItemLookup.listing(matches))
                }
            } else {
                matches = all.filter { $0.id.hex.hasPrefix(entry.lowercased()) }
                if matches.isEmpty { problems.append("\(entry): no item id starts with it") }
                if matches.count > 1 { problems.append("\(entry): matches \(matches.count) items; give more characters") }
            }
            for item in matches where !chosen.contains(where: { $0.id == item.id }) { chosen.append(item) }
        }
        guard problems.isEmpty else { throw CLIError.usage(problems.joined(separator: "\n       ")) }
        return chosen
    }

    func run() async throws {
        let (store, url) = try await Wiring.openLibraryStore(options, readOnly: dryRun)
        do {
            try await send(store: store, url: url)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    private func send(store: SQLRunStore, url: DatabaseURL) async throws {
        let chosen = try await Self.resolve(selection, store: store)
        let notUploaded = chosen.filter { $0.fanvueMediaUUID == nil }
        let items = chosen.compactMap { item in
            item.fanvueMediaUUID.map { SendableItem(id: item.id, name: item.croppedName ?? item.originalName, media: $0) }
        }
        for item in notUploaded {
            FileHandle.standardError.write(
                Data("skipped \(item.id.hex.prefix(10)) \(item.originalName): \(Self.whyNotOnFanvue(item))\n".utf8))
        }
        guard !items.isEmpty else { throw CLIError.failure("nothing to send: none of these items is approved and uploaded") }
        let priceCents: Int?
        if free {
            priceCents = nil
        } else if let price {
            priceCents = Money.parse(price)
        } else {
            let prices = chosen.filter { $0.fanvueMediaUUID != nil }.compactMap(\.priceCents)
            guard prices.count == items.count else {
                throw CLIError.usage("some of these items have no price of their own: give --price (or --free)")
            }
            priceCents = max(300, prices.reduce(0, +))
        }
        let text = Disclosure.apply(text, disclosure: PublishSpec.defaultDisclosure)
        let sender = Sender(store: store, locks: SQLRunStore.workLocks(for: url), now: { Date() }, allowSimilar: allowSimilar)
        let context = SendContext(account: nil, drop: nil, via: "send")
        var leaveOut: [String: String] = [:]
        if skipChargebacks {
            for (fan, date) in SalesReport.chargebacks(try await store.purchases()) {
                leaveOut[fan] = "left out: charged back a purchase on \(Timestamp.format(date).prefix(10))"
            }
        }
        let fans = to.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let scheduledAt = at.flatMap(Timestamp.parse)
        if fans.count == 1, UUIDText.isUUID(fans[0]), scheduledAt == nil {
            // One fan, now: one message, or nothing when the fan has it all (not one call to Fanvue then).
            let fan = fans[0]
            let results: [FanSendResult]
            if let reason = leaveOut[fan] {
                results = [FanSendResult(fan: fan, sent: [], skipped: [], reason: reason)]
            } else if dryRun {
                let plan = try await sender.plan(items: items, fans: [fan])
                results = plan.map { FanSendResult(fan: $0.fan, sent: $0.send, skipped: $0.skip, reason: $0.reason) }
            } else {
                let api = try Wiring.fanvueClient(for: "send")
                do {
                    try await reconcile(try await sender.lacking(items, fans: [fan]), store: store, api: api)
                    results = [try await sender.send(items, to: fan, text: text, priceCents: priceCents, context: context, api: api)]
                } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError.failure("sending to \(to) failed: \(error)")
                }
            }
            report(results, priceCents: priceCents, listName: nil, audience: nil)
            if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
            return
        }
        let api = try Wiring.fanvueClient(for: "send to several fans")
        var list: FanList?
        var lists: [FanList] = []
        if !UUIDText.isUUID(fans[0]) {
            do {
                lists = try await api.lists()
            } catch {
                throw CLIError.failure("cannot read the lists on Fanvue: \(error)")
            }
            list = try Self.list(named: to, in: lists)
        }
        let audienceName = list?.name ?? "\(fans.count) fan\(fans.count == 1 ? "" : "s")"
        let results: [FanSendResult]
        var audience: AudienceReport?
        do {
            if dryRun {
                let account = try await api.account
                let members = try await list.asyncFlatMap { try await api.members(of: $0) } ?? fans
                let plan =
                    if let list {
                        try await sender.audience(
                            items, list: list, members: members, account: account, api: api, allLists: lists,
                            leaveOut: leaveOut, scheduled: scheduledAt != nil)
                    } else {
                        try await sender.audience(
                            items, fans: members, account: account, api: api, leaveOut: leaveOut, scheduled: scheduledAt != nil)
                    }
                let stale =
                    offline
                    ? []
                    : try await Reconciler(store: store, api: api, now: { Date() })
                        .stale(
                            try await sender.lacking(items, fans: members.filter { leaveOut[$0] == nil }), account: account,
                            freshness: Reconciler.freshness)
                let media = Set(items.map(\.media))
                let pending = try await store.campaigns(account: account).contains { (campaign: CampaignRecord) -> Bool in
                    guard campaign.status == .pending && Set(campaign.mediaUUIDs) == media else { return false }
                    if let list { return campaign.list.id == list.id }
                    return campaign.list.name.hasPrefix("elena-run: audience")
                }
                audience = AudienceReport(
                    plan: plan, stale: stale.count,
                    reads: Self.reads(plan: plan, lists: list == nil ? nil : lists, stale: stale.count, pendingCampaign: pending))
                results =
                    (plan.oneToOne
                        ? plan.recipients.map { FanSendResult(fan: $0, sent: items, skipped: []) }
                        : plan.recipients.map { FanSendResult(fan: $0, sent: items, skipped: [], massMessageID: "") })
                    + plan.excluded.map { entry in
                        FanSendResult(
                            fan: entry.fan, sent: entry.send.filter { !entry.has.contains($0) }, skipped: entry.has,
                            reason: entry.reason)
                    }
            } else {
                let store = store
                let before: @Sendable ([String]) async throws -> Void = { fans in
                    if !offline { try await reconcile(fans, store: store, api: api) }
                }
                let progress: @Sendable (Int, Int) -> Void = { done, total in
                    if !json && total >= 20 && done % 20 == 0 { print("  \(done)/\(total) fans…") }
                }
                if let list {
                    results = try await sender.send(
                        items, toList: list, text: text, priceCents: priceCents, at: scheduledAt, context: context, api: api,
                        allLists: lists, leaveOut: leaveOut, before: before, progress: progress)
                } else {
                    results = try await sender.send(
                        items, toFans: fans, text: text, priceCents: priceCents, at: scheduledAt, context: context, api: api,
                        leaveOut: leaveOut, before: before, progress: progress)
                }
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError.failure("sending to \(audienceName) failed: \(error)")
        }
        report(results, priceCents: priceCents, listName: list?.name, audience: audience)
        if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }

    /// Reads the chats of those of `fans` the ledger has not seen lately, so sends made by hand count.
    private func reconcile(_ fans: [String], store: SQLRunStore, api: FanvueClient) async throws {
        guard !offline, !fans.isEmpty else { return }
        let reconciler = Reconciler(
            store: store, api: api, now: { Date() },
            progress: { line in if !json { print("  \(line)") } }, codec: OpenCVCodec())
        let summary = try await reconciler.run(fans: fans, freshness: Reconciler.freshness)
        if !json && summary.chatsRead > 0 {
            print(
                "read \(summary.chatsRead) chat\(summary.chatsRead == 1 ? "" : "s") on Fanvue first"
                    + (summary.recorded > 0 ? ": \(summary.recorded) send\(summary.recorded == 1 ? "" : "s") made outside elena-run recorded" : ""))
        }
    }

    /// The list `name` names (an id or a name, any case); an unknown one is refused with the lists Fanvue has.
    static func list(named name: String, in lists: [FanList]) throws -> FanList {
        let wanted = name.lowercased()
        if let list = lists.first(where: { $0.id.lowercased() == wanted }) ?? lists.first(where: { $0.name.lowercased() == wanted }) {
            return list
        }
        let names = lists.map { $0.id == $0.name ? $0.name : "\($0.name) (\($0.id))" }
        throw CLIError.usage(
            "'\(name)' is neither a fan uuid nor a list; lists on Fanvue: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
    }

    /// The reads a send to many fans makes: who the account is, the lists and the list's members (a list), the stale
    /// chats (50 a call), a pending campaign's check, its custom lists' members, and the chats of fans with a claim a
    /// dead run left unconfirmed. `lists` is nil for a set of fans (their custom list is looked up among the lists
    /// only when a mass message may be cheaper).
    static func reads(plan: AudiencePlan, lists: [FanList]?, stale: Int, pendingCampaign: Bool) -> Int {
        func pages(_ count: Int, _ size: Int = 50) -> Int { max(1, (count + size - 1) / size) }
        var reads = 1
        if let lists {
            reads += 1 + pages(lists.filter { $0.kind == .custom }.count) + pages(plan.members)
        } else if plan.included != nil {
            reads += 2  // the smart lists and the first page of custom lists
        }
        reads += (stale + Reconciler.chatsPerCall - 1) / Reconciler.chatsPerCall
        if pendingCampaign { reads += 1 }
        if !plan.oneToOne || plan.list != nil { reads += plan.reads }
        reads += plan.excluded.filter { entry in entry.send.contains { entry.has.contains($0) } }.count
        return reads
    }

    /// What a list send's dry run adds to the report.
    struct AudienceReport {
        var plan: AudiencePlan
        /// Members whose chats would be read first.
        var stale: Int
        var reads: Int
    }

    private func report(_ results: [FanSendResult], priceCents: Int?, listName: String?, audience: AudienceReport?) {
        let sent = results.reduce(0) { $0 + $1.sent.count }
        let skipped = results.reduce(0) { $0 + $1.skipped.count }
        if json {
            let fans = results.map { result in
                JSONValue.object([
                    "fan": .string(result.fan),
                    "sent": .array(result.sent.map { .string($0.id.hex) }),
                    "skipped_already_sent": .array(result.skipped.map { .string($0.id.hex) }),
                    "reason": result.reason.map(JSONValue.string) ?? .null,
                    "message": result.messageUUID.map(JSONValue.string) ?? .null,
                    "mass_message": result.massMessageID.flatMap { $0.isEmpty ? nil : JSONValue.string($0) } ?? .null,
                    "error": result.error.map(JSONValue.string) ?? .null,
                ])
            }
            var members: [JSONValue.Member] = [
                .init("dry_run", .bool(dryRun)), .init("list", listName.map(JSONValue.string) ?? .null),
                .init("price_cents", priceCents.map(JSONValue.int) ?? .null), .init("sent", .int(sent)),
                .init("skipped_already_sent", .int(skipped)),
            ]
            if let audience { members.append(.init("audience", Self.json(audience))) }
            members.append(.init("fans", .array(fans)))
            print(JSONValue.object(members).pretty(), terminator: "")
            return
        }
        let verb = dryRun ? "would send" : "sent"
        if let audience { Self.describe(audience) }
        let mass = results.filter { $0.massMessageID != nil && !$0.sent.isEmpty }
        if let first = mass.first {
            print("\(verb) in one mass message to \(mass.count) fan\(mass.count == 1 ? "" : "s"): \(first.sent.map(\.name).joined(separator: ", "))")
        }
        for result in results where result.massMessageID == nil {
            if !result.sent.isEmpty {
                print("\(verb) to \(result.fan): \(result.sent.map(\.name).joined(separator: ", "))")
            }
            if !result.skipped.isEmpty {
                print("skipped \(result.fan): \(result.reason ?? "already has") (\(result.skipped.map(\.name).joined(separator: ", ")))")
            }
            if let error = result.error { print("failed \(result.fan): \(error)") }
            if result.sent.isEmpty && result.skipped.isEmpty, let reason = result.reason { print("skipped \(result.fan): \(reason)") }
        }
        let fans = Set(results.filter { !$0.sent.isEmpty }.map(\.fan)).count
        print(
            "\(dryRun ? "dry run: " : "")\(sent) send\(sent == 1 ? "" : "s") to \(fans) fan\(fans == 1 ? "" : "s") at "
                + "\(Money.describe(priceCents)), \(skipped) skipped (already sent)\(listName.map { " · list \($0)" } ?? "")"
                + (at.map { " · scheduled for \($0)" } ?? ""))
    }

    /// The dry run's account of a send to many fans: who is reached, who is left out, what it costs.
    static func describe(_ audience: AudienceReport) {
        let plan = audience.plan
        if let list = plan.list {
            print("list \(list.name): \(plan.members) member\(plan.members == 1 ? "" : "s")")
        } else {
            print("\(plan.audienceName)")
        }
        if plan.oneToOne {
            print("  \(plan.recipients.count) get a one-to-one message (cheaper than a mass message and its list calls)")
        } else if !plan.recipients.isEmpty {
            let through = plan.included.map { ", through the custom list \"\($0.name)\" (\($0.existing == nil ? "to be created" : "exists on Fanvue"))" } ?? ""
            print("  \(plan.recipients.count) get one mass message\(through)")
        }
        if !plan.excluded.isEmpty {
            let through = plan.exclusion.map { ", through the custom list \"\($0.name)\" (\($0.existing == nil ? "to be created" : "exists on Fanvue"))" } ?? ""
            print("  \(plan.excluded.count) left out\(through):")
        }
        let writes = plan.writes
        let mass = plan.massRequests
        var parts: [String] = []
        if !plan.recipients.isEmpty && !plan.oneToOne {
            if mass.create > 0 { parts.append("\(mass.create) new list\(mass.create == 1 ? "" : "s")") }
            if mass.add > 0 { parts.append("\(mass.add) member call\(mass.add == 1 ? "" : "s")") }
            if mass.remove > 0 { parts.append("\(mass.remove) member removal\(mass.remove == 1 ? "" : "s")") }
            parts.append("1 mass message")
        }
        let oneToOne = (plan.oneToOne ? plan.recipients.count : 0) + plan.excluded.filter { !$0.send.isEmpty }.count
        if oneToOne > 0 { parts.append("\(oneToOne) one-to-one message\(oneToOne == 1 ? "" : "s")") }
        print(
            "  requests: \(audience.reads + writes) (\(audience.reads) reads, \(writes) writes\(parts.isEmpty ? "" : ": " + parts.joined(separator: ", ")))"
                + (plan.recipients.count > 1 && !plan.oneToOne ? "; one-to-one messages would take \(plan.recipients.count)" : ""))
        if audience.stale > 0 {
            print(
                "  \(audience.stale) fan\(audience.stale == 1 ? "'s chat was" : "s' chats were") not read in the last 15 minutes: "
                    + "the send reads \(audience.stale == 1 ? "it" : "them") first (counted above; run `elena-run reconcile` for an exact plan)")
        }
    }

    static func json(_ audience: AudienceReport) -> JSONValue {
        let plan = audience.plan
        let managed = plan.included ?? plan.exclusion
        return .object([
            "members": .int(plan.members),
            "recipients": .int(plan.recipients.count),
            "one_to_one": .bool(plan.oneToOne),
            "excluded": .array(
                plan.excluded.map { .object(["fan": .string($0.fan), "reason": .string($0.reason)]) }),
            "custom_list": managed.map { .string($0.name) } ?? .null,
            "custom_list_role": .string(plan.included != nil ? "included" : plan.exclusion != nil ? "excluded" : "none"),
            "custom_list_exists": .bool(managed?.existing != nil),
            "stale_chats": .int(audience.stale),
            "requests": .object([
                "reads": .int(audience.reads), "writes": .int(plan.writes), "total": .int(audience.reads + plan.writes),
                "one_to_one_instead": .int(plan.recipients.count),
            ]),
        ])
    }
}
