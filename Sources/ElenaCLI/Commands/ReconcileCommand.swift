internal import ArgumentParser
import ElenaCore
import ElenaFanvue
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation

/// `elena-run reconcile`.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Bring the ledger in line with what Fanvue holds: the media the creator sent in every chat, by any path.",
        discussion: """
            Reads the creator's chats on Fanvue (50 a request, only what is new since the last read) and records \
            every picture the creator sent that the ledger does not know: sent by hand in Fanvue's own pages \
            (path `manual`), or by Fanvue's mass messages and automations (path `fanvue`). From then on every \
            guard counts them like elena-run's own sends: `send` and a drop's `message` skip those fans and say \
            why ("had it: sent by hand on 2026-11-30"). A media uploaded outside elena-run is downloaded once and \
            tied to the item with the same bytes; one that matches no item is recorded as external. A claim left \
            by an interrupted send that the chat shows went out is confirmed. The posts are read too: one edited \
            by hand in Fanvue (made free, pictures changed) or made by hand that shows an item sold as \
            pay-per-view is reported (the creator's post is not changed). Nothing is sent.

            `send` and a drop's `message` run the same reading, for the fans they reach, when the ledger has not \
            seen those chats for 15 minutes (`send --offline`, or `reconcile: false` in the manifest's message, \
            turns that off). A killed reconcile resumes where it stopped.

            Examples:
              elena-run reconcile
              elena-run reconcile --fan 2b0e6c1e-0a4f-4c36-9c8e-5d1f8d3a7e21 --json
            """)

    @Option(name: .long, help: ArgumentHelp("Only this fan's chat (repeatable). Default: every chat.", valueName: "uuid"))
    var fan: [String] = []

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        for uuid in fan where !UUIDText.isUUID(uuid) {
            throw ValidationError("--fan takes a fan's uuid, not '\(uuid)'")
        }
    }

    func run() async throws {
        let api = try Wiring.fanvueClient(for: "reconcile")
        let (store, _) = try await Wiring.openLibraryStore(options, readOnly: false)
        let started = ContinuousClock.now
        let summary: ReconcileSummary
        do {
            summary = try await Reconciler(
                store: store, api: api, now: { Date() },
                progress: { line in if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) } },
                codec: OpenCVCodec()
            ).run(fans: fan.isEmpty ? nil : fan.map { $0.lowercased() })
        } catch {
            await store.close()
            throw CLIError.failure("reconcile stopped (what it read is saved: run it again to go on): \(error)")
        }
        await store.close()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let requests = await api.counter.api
        let downloads = await api.counter.storage
        if json {
            print(
                JSONValue.object([
                    "chats_read": .int(summary.chatsRead), "chats_unchanged": .int(summary.chatsFresh),
                    "media_seen": .int(summary.mediaSeen),
                    "sends_recorded": .int(summary.recorded), "claims_confirmed": .int(summary.confirmed),
                    "external_media_tied": .int(summary.externalTied), "external_media_unknown": .int(summary.externalUntied),
                    "posts_read": .int(summary.postsRead), "feed_guard": .array(summary.postFindings.map(JSONValue.string)),
                    "requests": .int(requests), "downloads": .int(downloads),
                    "seconds": .double((seconds * 100).rounded() / 100),
                ]).pretty(), terminator: "")
            return
        }
        var lines = [
            "reconciled \(summary.chatsRead) chat\(summary.chatsRead == 1 ? "" : "s") (\(summary.chatsFresh) unchanged since the last read): "
                + "\(summary.mediaSeen) media sent since then",
            "  \(summary.recorded) send\(summary.recorded == 1 ? "" : "s") made outside elena-run recorded (the guards count them now)",
        ]
        if summary.confirmed > 0 {
            lines.append("  \(summary.confirmed) send\(summary.confirmed == 1 ? "" : "s") an interrupted run left unconfirmed went out: confirmed")
        }
        if summary.externalTied + summary.externalUntied > 0 {
            lines.append(
                "  \(summary.externalTied + summary.externalUntied) media uploaded outside elena-run: \(summary.externalTied) tied to "
                    + "items by their bytes, \(summary.externalUntied) not in the library")
        }
        if summary.postsRead > 0 || !summary.postFindings.isEmpty {
            lines.append("  \(summary.postsRead) post\(summary.postsRead == 1 ? "" : "s") read; \(summary.postFindings.count) break\(summary.postFindings.count == 1 ? "s" : "") the feed guard")
            lines += summary.postFindings.map { "  ! " + $0 }
        }
        lines.append(
            String(format: "  %d request%@ to Fanvue (%d download%@) in %.1f s", requests, requests == 1 ? "" : "s", downloads,
                   downloads == 1 ? "" : "s", seconds))
        print(lines.joined(separator: "\n"))
    }
}
