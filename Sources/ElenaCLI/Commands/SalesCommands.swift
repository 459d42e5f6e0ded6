internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStages
import ElenaStore
import Foundation

/// `elena-run sync`.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Pull purchases and subscribers from Fanvue and credit each sale to the items it paid for.",
        discussion: """
            Reads Fanvue's earnings (all pages), ties each purchase to items through the message or post that \
            was bought (for a mass message, by reading that fan's chat), marks the sends bought, and recomputes \
            each item's times purchased and revenue (net). Running it twice changes nothing. \
            Then `elena-run stats` and `elena-run suggest --fan <uuid>` use what it found.

            Examples:
              elena-run sync
              elena-run sync --json
            """)

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func run() async throws {
        let api = try Wiring.fanvueClient(for: "sync")
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: false)
        let summary: SyncSummary
        do {
            summary = try await Syncer(
                store: store, api: api, now: { Date() },
                progress: { line in if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
            ).run()
        } catch {
            await store.close()
            throw CLIError.failure("sync failed (nothing half-written: run it again): \(error)")
        }
        await store.close()
        if json {
            print(
                JSONValue.object([
                    "fetched": .int(summary.fetched), "new": .int(summary.new), "attributed": .int(summary.attributed),
                    "unattributed": .int(summary.unattributed), "subscribers": .int(summary.subscribers),
                    "chats_read": .int(summary.chatsRead), "campaigns": .array(summary.campaigns.map(JSONValue.string)),
                ]).pretty(), terminator: "")
        } else {
            print(
                "synced: \(summary.fetched) earnings read, \(summary.new) new; \(summary.attributed) tied to items, "
                    + "\(summary.unattributed) not (subscriptions, tips, content sent outside elena-run); "
                    + "\(summary.subscribers) subscribers")
            for line in summary.campaigns { print("  " + line) }
        }
    }
}

/// `elena-run stats`.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Revenue, sends, purchases and conversion per item, tag, drop and price point.",
        discussion: """
            From the ledger as of the last `elena-run sync`. Conversion is bought sends over pay-per-view sends; \
            revenue is net (what Fanvue pays out), with gross beside it. Sends are also shown by path (a drop's \
            message, `send`, by hand in Fanvue as `reconcile` found them), and each mass message (campaign) with \
            its status, reach, views, purchases and revenue as Fanvue reported them at the last sync.

            Examples:
              elena-run stats                      tables
              elena-run stats --json               everything as JSON
              elena-run stats --html report.html   a page with charts
            """)

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Also write an HTML report with charts to this file.", valueName: "file"))
    var html: String?

    @Option(name: .long, help: ArgumentHelp("Rows per table (0: all).", valueName: "n"))
    var top = 10

    @OptionGroup var options: LibraryOptions

    func run() async throws {
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: true)
        let report: SalesReport
        let campaigns: [CampaignRecord]
        do {
            report = SalesReport.build(
                items: try await store.items(drop: nil), sends: try await store.allSends(),
                purchases: try await store.purchases(), shares: try await store.purchaseShares())
            campaigns = try await store.campaigns(account: nil)
        } catch {
            await store.close()
            throw CLIError.failure("cannot read the ledger: \(error)")
        }
        await store.close()
        if let html {
            let path = PathText.resolve(html, relativeTo: Wiring.workingDirectory, home: Wiring.home)
            // A report goes into a folder that exists, and replaces only a regular file (never a device or a folder).
            if !FileSystem.isDirectory(PathText.directory(of: path)) {
                throw CLIError.usage("--html \(html): the folder \(PathText.directory(of: path)) does not exist")
            }
            var info = stat()
            if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
                throw CLIError.usage("--html \(html): \(path) exists and is not a regular file; name a new .html file")
            }
            do {
                try FileSystem.writeAtomically(Data(SalesOutput.html(report).utf8), to: path)
            } catch {
                throw CLIError.failure("cannot write \(path): \(error)")
            }
            if !json { print("wrote \(path)") }
        }
        print(
            json ? SalesOutput.json(report, campaigns: campaigns) : SalesOutput.text(report, campaigns: campaigns, top: top),
            terminator: json ? "" : "\n")
    }
}

/// `elena-run suggest --fan <uuid>`.
struct SuggestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest",
        abstract: "Approved pay-per-view items a fan never received, best sellers first, with a price to ask.",
        discussion: """
            Ranks items that are on Fanvue, were never sent to this fan and never posted to the feed by expected \
            net per send: the item's conversion (pulled toward its tags' while it has few sends) times the \
            price. The price is the item's own, or, for an item without one or without sales yet, the price \
            point that earned most per send. Then send it with `elena-run send <id> --to <fan> --price <amount>`.

            Example:
              elena-run suggest --fan 2b0e6c1e-0a4f-4c36-9c8e-5d1f8d3a7e21
            """)

    @Option(name: .long, help: ArgumentHelp("The fan's uuid.", valueName: "uuid"))
    var fan: String

    @Option(name: .long, help: ArgumentHelp("How many items.", valueName: "n"))
    var limit = 10

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if !UUIDText.isUUID(fan) { throw ValidationError("--fan must be a fan's uuid, not '\(fan)'") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: true)
        let suggestions: [Suggestions.Suggestion]
        let items: [ItemRecord]
        let chargeback: Date?
        do {
            items = try await store.items(drop: nil)
            let sends = try await store.allSends()
            let purchases = try await store.purchases()
            chargeback = SalesReport.chargebacks(purchases)[fan.lowercased()]
            let report = SalesReport.build(
                items: items, sends: sends, purchases: purchases, shares: try await store.purchaseShares())
            suggestions = Suggestions.rank(
                fan: fan.lowercased(), items: items, sends: sends, posts: try await store.allPosts(), report: report,
                limit: limit)
        } catch {
            await store.close()
            throw CLIError.failure("cannot read the ledger: \(error)")
        }
        await store.close()
        if json {
            print(
                JSONValue.object([
                    "fan": .string(fan.lowercased()),
                    "chargeback_at": chargeback.map { .string(Timestamp.format($0)) } ?? .null,
                    "suggestions": .array(
                        suggestions.map { suggestion in
                            .object([
                                "item": .string(suggestion.item.id.hex),
                                "name": .string(suggestion.item.croppedName ?? suggestion.item.originalName),
                                "drop": .string(suggestion.item.drop),
                                "sends": .int(suggestion.sends), "bought": .int(suggestion.purchasedSends),
                                "net_cents": .int(suggestion.netCents),
                                "expected_conversion": .double((suggestion.expectedConversion * 1000).rounded() / 1000),
                                "suggested_price_cents": suggestion.suggestedPriceCents.map(JSONValue.int) ?? .null,
                                "price_reason": .string(suggestion.priceReason),
                            ])
                        }),
                ]).pretty(), terminator: "")
            return
        }
        if let chargeback {
            print(
                "note: this fan charged back a purchase on \(Timestamp.format(chargeback).prefix(10)) "
                    + "(send --skip-chargebacks leaves such fans out of list sends)")
        }
        guard !suggestions.isEmpty else {
            let uploaded = items.filter { $0.fanvueMediaUUID != nil }.count
            print(
                uploaded == 0
                    ? "nothing to suggest for \(fan): no item is on Fanvue yet (approve crops of a drop whose manifest "
                        + "says 'publish.to: fanvue', then run it)"
                    : "nothing to suggest for \(fan): each of the \(uploaded) item\(uploaded == 1 ? "" : "s") on Fanvue was "
                        + "sent to this fan or posted")
            return
        }
        print("best items for \(fan) (never sent to them):")
        var rows = [["#", "item", "name", "drop", "sends", "bought", "net", "expect", "price"]]
        for (index, suggestion) in suggestions.enumerated() {
            rows.append([
                "\(index + 1)", String(suggestion.item.id.hex.prefix(10)),
                suggestion.item.croppedName ?? suggestion.item.originalName, suggestion.item.drop,
                "\(suggestion.sends)", "\(suggestion.purchasedSends)", Money.describe(suggestion.netCents),
                String(format: "%.0f%%", suggestion.expectedConversion * 100), Money.describe(suggestion.suggestedPriceCents),
            ])
        }
        print(SalesOutput.table(rows))
        if let first = suggestions.first {
            let price = first.suggestedPriceCents.map { " --price " + Money.describe($0).dropFirst() } ?? ""
            print("send the first: elena-run send \(first.item.id.hex.prefix(10)) --to \(fan)\(price)")
        }
    }
}
