internal import ArgumentParser
import ElenaCore
import ElenaFanvue
import ElenaStages
import ElenaStore
import Foundation

/// `elena-run unsend <campaign>`.
struct UnsendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unsend",
        abstract: "Take back a mass message elena-run sent or scheduled; fans who bought it keep it.",
        discussion: """
            Names a campaign by its id or Fanvue's mass message id (or a unique prefix of 6+ characters), as \
            `elena-run stats` lists them. Fanvue takes the message out of the chats of everyone who did not buy \
            it (a scheduled one never goes out); the ledger gives back those fans' claims, so a later send may \
            reach them again, and keeps the buyers'. Only mass messages can be unsent.

            Example:
              elena-run unsend 3fa2c1e0
            """)

    @Argument(help: ArgumentHelp("The campaign's id or mass message id, or a prefix of 6+ characters.", valueName: "campaign"))
    var campaign: String

    @Flag(name: .long, help: "Show what would be taken back; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if campaign.count < 6 { throw ValidationError("give at least 6 characters of the campaign's id, not '\(campaign)'") }
    }

    func run() async throws {
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: dryRun)
        do {
            try await unsend(store: store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    private func unsend(store: SQLRunStore) async throws {
        let found = try await Self.campaign(campaign, in: store)
        let name = "the mass message to \(found.list.name) (\(found.intended) fans)"
        if found.status.isClosed {
            throw CLIError.failure("nothing to unsend: \(name) is \(found.status.words)")
        }
        guard let id = found.massMessageID else {
            throw CLIError.failure(
                "\(name) has no answer from Fanvue yet (a run stopped while sending it): run `elena-run sync` to find it first")
        }
        let sends = try await store.allSends().filter { $0.campaignID == found.id }
        let buyers = Set(sends.filter { $0.purchasedAt != nil }.map(\.fan)).count
        let fans = Set(sends.map(\.fan)).count
        if dryRun {
            output(name: name, id: id, released: fans - buyers, buyers: buyers, done: false)
            return
        }
        let api = try Wiring.fanvueClient(for: "unsend")
        do {
            try await api.unsendMassMessage(id)
        } catch {
            throw CLIError.failure("Fanvue did not unsend \(name): \(error) (nothing changed in the ledger; try again)")
        }
        _ = try await store.releaseCampaignSends(id: found.id)
        var closed = found
        closed.status = .unsent
        closed.updatedAt = Date()
        try await store.saveCampaign(closed)
        try await store.append([
            EventRecord(
                kind: "fanvue.unsend", drop: found.drop,
                message: "unsent \(name): \(fans - buyers) fans' claims given back, \(buyers) buyers keep it",
                data: .object(["campaign": .string(found.id), "mass_message": .string(id), "released": .int(fans - buyers)]), at: Date())
        ])
        output(name: name, id: id, released: fans - buyers, buyers: buyers, done: true)
    }

    /// The one campaign whose id or mass message id starts with `reference`.
    static func campaign(_ reference: String, in store: SQLRunStore) async throws -> CampaignRecord {
        let wanted = reference.lowercased()
        let matches = try await store.campaigns(account: nil).filter {
            $0.id.hasPrefix(wanted) || ($0.massMessageID?.lowercased().hasPrefix(wanted) ?? false)
        }
        guard let found = matches.first else {
            throw CLIError.usage("no campaign's id or mass message id starts with '\(reference)' (elena-run stats lists them)")
        }
        guard matches.count == 1 else {
            throw CLIError.usage("'\(reference)' matches \(matches.count) campaigns; give more characters")
        }
        return found
    }

    private func output(name: String, id: String, released: Int, buyers: Int, done: Bool) {
        if json {
            print(
                JSONValue.object([
                    "dry_run": .bool(!done), "mass_message": .string(id), "released": .int(released), "buyers_keep": .int(buyers),
                ]).pretty(), terminator: "")
            return
        }
        print(
            "\(done ? "unsent" : "dry run: would unsend") \(name): \(released) fan\(released == 1 ? "'s" : "s'") claims "
                + "\(done ? "given back" : "to give back"), \(buyers) who bought it keep it")
    }
}

/// `elena-run reschedule <campaign> [--at] [--price] [--text]`.
struct RescheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reschedule",
        abstract: "Change a scheduled mass message before it goes out: its time, price or text.",
        discussion: """
            Names a campaign as `unsend` does. Only a mass message that has not gone out can be changed (Fanvue's \
            rule); the ledger records the change, and its fans' claims take the new price.

            Example:
              elena-run reschedule 3fa2c1e0 --at 2026-12-24T20:00:00Z --price 15
            """)

    @Argument(help: ArgumentHelp("The campaign's id or mass message id, or a prefix of 6+ characters.", valueName: "campaign"))
    var campaign: String

    @Option(name: .long, help: ArgumentHelp("The new time (ISO 8601, in the future).", valueName: "time"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("The new price in dollars (at least 3.00).", valueName: "amount"))
    var price: String?

    @Flag(name: .long, help: "Make it free.")
    var free = false

    @Option(name: .long, help: ArgumentHelp("The new text (the AI disclosure is added unless it is there).", valueName: "text"))
    var text: String?

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if campaign.count < 6 { throw ValidationError("give at least 6 characters of the campaign's id, not '\(campaign)'") }
        if at == nil && price == nil && !free && text == nil { throw ValidationError("say what changes: --at, --price, --free or --text") }
        if free && price != nil { throw ValidationError("--free and --price cannot go together") }
        if let at {
            guard let date = Timestamp.parse(at) else { throw ValidationError("--at must be a time such as 2026-12-24T18:00:00Z, not '\(at)'") }
            if date <= Date() { throw ValidationError("--at must be in the future, not \(at)") }
        }
        if let price, (Money.parse(price) ?? 0) < 300 {
            throw ValidationError("--price must be an amount of at least 3.00, not '\(price)'")
        }
    }

    func run() async throws {
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: false)
        do {
            let found = try await UnsendCommand.campaign(campaign, in: store)
            guard found.status == .scheduled, let id = found.massMessageID else {
                throw CLIError.failure(
                    "only a scheduled mass message can be changed; the one to \(found.list.name) is \(found.status.words)")
            }
            let api = try Wiring.fanvueClient(for: "reschedule")
            let when = at.flatMap(Timestamp.parse)
            var cents: Int??
            if free { cents = .some(nil) } else if let price { cents = .some(Money.parse(price)) }
            let words = text.map { Disclosure.apply($0, disclosure: PublishSpec.defaultDisclosure) }
            do {
                try await api.updateMassMessage(id, at: when, priceCents: cents, text: words)
            } catch {
                throw CLIError.failure("Fanvue did not change the mass message to \(found.list.name): \(error) (the ledger is unchanged)")
            }
            try await store.updateCampaign(id: found.id, scheduledAt: when, priceCents: cents, text: words, at: Date())
            var changes: [String] = []
            if let at { changes.append("goes out at \(at)") }
            if let cents { changes.append("costs \(cents.map { Money.describe($0) } ?? "nothing (free)")") }
            if text != nil { changes.append("has the new text") }
            print("the mass message to \(found.list.name) (\(found.intended) fans) now " + changes.joined(separator: ", "))
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
