internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStages
import ElenaStore
import Foundation

/// `elena-run send <items…> --to <fan | list>`.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send approved items as a pay-per-view message to a fan or a list, never twice to anyone.",
        discussion: """
            Items: item ids (or unique prefixes of at least 6 characters, as `status` shows them), file names
            (the original's, ComfyUI_00004_.png, or a crop's), drop:NAME (every uploaded item of a drop) or tag:NAME. Only items a person approved and that were uploaded to
            Fanvue can be sent.

            --to takes a fan's uuid (one message to that fan) or a list: a smart list id or name (subscribers,
            all_fans…) or a custom list's name or uuid. When nobody in the list has any of the items, one mass
            message reaches them all; otherwise each member gets a message with only the items they lack.

            Every fan who already has an item (by any path: a drop's message, an earlier send, another runner)
            is skipped and reported, before any call to Fanvue. --dry-run shows who would get what.

            Examples:
              elena-run send 3fa2c1 9be004 --to 2b0e6c1e-0a4f-4c36-9c8e-5d1f8d3a7e21 --price 9.99
              elena-run send drop:drop-03 --to subscribers --price 12 --dry-run
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

    @Flag(name: .long, help: "Show who would get what; send nothing, change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if selection.isEmpty { throw ValidationError("name at least one item (id prefix, drop:NAME or tag:NAME)") }
        if free && price != nil { throw ValidationError("--free and --price cannot go together") }
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

    static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
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
        let sender = Sender(store: store, locks: SQLRunStore.workLocks(for: url), now: { Date() })
        let context = SendContext(account: nil, drop: nil, via: "send")
        var results: [FanSendResult] = []
        var listName: String?
        if Self.isUUID(to) {
            if dryRun {
                let plan = try await sender.plan(items: items, fans: [to.lowercased()])
                results = plan.map { FanSendResult(fan: $0.fan, sent: $0.send, skipped: $0.skip) }
            } else {
                let api = try Wiring.fanvueClient(for: "send")
                do {
                    results = [
                        try await sender.send(items, to: to.lowercased(), text: text, priceCents: priceCents, context: context, api: api)
                    ]
                } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError.failure("sending to \(to) failed: \(error)")
                }
            }
        } else {
            let api = try Wiring.fanvueClient(for: "send to a list")
            let lists: [FanList]
            do {
                lists = try await api.lists()
            } catch {
                throw CLIError.failure("cannot read the lists on Fanvue: \(error)")
            }
            let wanted = to.lowercased()
            guard let list = lists.first(where: { $0.id.lowercased() == wanted }) ?? lists.first(where: { $0.name.lowercased() == wanted })
            else {
                let names = lists.map { $0.id == $0.name ? $0.name : "\($0.name) (\($0.id))" }
                throw CLIError.usage(
                    "'\(to)' is neither a fan uuid nor a list; lists: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
            }
            listName = list.name
            do {
                if dryRun {
                    let members = try await api.members(of: list)
                    results = try await sender.plan(items: items, fans: members).map {
                        FanSendResult(fan: $0.fan, sent: $0.send, skipped: $0.skip)
                    }
                } else {
                    results = try await sender.send(
                        items, toList: list, text: text, priceCents: priceCents, context: context, api: api,
                        progress: { done, total in
                            if !json && total >= 20 && done % 20 == 0 { print("  \(done)/\(total) fans…") }
                        })
                }
            } catch {
                throw CLIError.failure("sending to the list \(list.name) failed: \(error)")
            }
        }
        report(results, priceCents: priceCents, listName: listName)
        if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }

    private func report(_ results: [FanSendResult], priceCents: Int?, listName: String?) {
        let sent = results.reduce(0) { $0 + $1.sent.count }
        let skipped = results.reduce(0) { $0 + $1.skipped.count }
        if json {
            let fans = results.map { result in
                JSONValue.object([
                    "fan": .string(result.fan),
                    "sent": .array(result.sent.map { .string($0.id.hex) }),
                    "skipped_already_sent": .array(result.skipped.map { .string($0.id.hex) }),
                    "message": result.messageUUID.map(JSONValue.string) ?? .null,
                    "mass_message": result.massMessageID.map(JSONValue.string) ?? .null,
                    "error": result.error.map(JSONValue.string) ?? .null,
                ])
            }
            print(
                JSONValue.object([
                    "dry_run": .bool(dryRun), "list": listName.map(JSONValue.string) ?? .null,
                    "price_cents": priceCents.map(JSONValue.int) ?? .null, "sent": .int(sent),
                    "skipped_already_sent": .int(skipped), "fans": .array(fans),
                ]).pretty(), terminator: "")
            return
        }
        let verb = dryRun ? "would send" : "sent"
        for result in results {
            if !result.sent.isEmpty {
                let via = result.massMessageID != nil ? " (mass message)" : ""
                print("\(verb) to \(result.fan): \(result.sent.map(\.name).joined(separator: ", "))\(via)")
            }
            if !result.skipped.isEmpty {
                print("skipped \(result.fan): already has \(result.skipped.map(\.name).joined(separator: ", "))")
            }
            if let error = result.error { print("failed \(result.fan): \(error)") }
        }
        let fans = Set(results.filter { !$0.sent.isEmpty }.map(\.fan)).count
        print(
            "\(dryRun ? "dry run: " : "")\(sent) send\(sent == 1 ? "" : "s") to \(fans) fan\(fans == 1 ? "" : "s") at "
                + "\(Money.describe(priceCents)), \(skipped) skipped (already sent)\(listName.map { " · list \($0)" } ?? "")")
    }
}
