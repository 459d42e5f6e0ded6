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
            Names a campaign by its id or Fanvue's mass message id (or a unique prefix of 6+ characters), as
            `elena-run stats` lists them. Fanvue takes the message out of the chats of everyone who did not buy
            it (a scheduled one never goes out); the ledger gives back those fans' claims, so a later send may
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
        let wanted = campaign.lowercased()
        let matches = try await store.campaigns(account: nil).filter {
            $0.id.hasPrefix(wanted) || ($0.massMessageID?.lowercased().hasPrefix(wanted) ?? false)
        }
        guard let found = matches.first else {
            throw CLIError.usage("no campaign's id or mass message id starts with '\(campaign)' (elena-run stats lists them)")
        }
        guard matches.count == 1 else {
            throw CLIError.usage("'\(campaign)' matches \(matches.count) campaigns; give more characters")
        }
        let name = "the mass message to \(found.list.name) (\(found.intended) fans)"
        if ["UNSENT", "NOT_SENT", "MODERATED", "FAILED", "REFUSED"].contains(found.status) {
            throw CLIError.failure("nothing to unsend: \(name) is \(found.status.lowercased().replacingOccurrences(of: "_", with: " "))")
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
        closed.status = "UNSENT"
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
