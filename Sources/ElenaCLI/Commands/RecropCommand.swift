internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStore
import Foundation

/// `elena-run recrop <item> --line <fraction>`: a human sets the cut line; every later run keeps it.
struct RecropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recrop",
        abstract: "Set an item's cut line by hand (a fraction of its height); later runs keep it.",
        discussion: """
            Non-destructive: the earlier crop stays in 2_cropped/, and the new one goes to 3_review/ for a decision. \
            An item is named by its id, as `elena-run status --item <prefix>` shows it, or by a file name (the \
            original's or a crop's).

            Examples:
              elena-run recrop 1cc63154 --line 0.42              the next run recrops
              elena-run recrop 1cc63154 --line 0.42 drop.yaml    and run the drop now
              elena-run recrop 1cc63154 --clear                  the manifest's cut again
              elena-run recrop ComfyUI_00004_.png --line 0.4     named by its file
            """)

    @Argument(help: ArgumentHelp("The item: its id (or a unique prefix of at least 6 characters) or a file name.", valueName: "item"))
    var item: String

    @Argument(help: ArgumentHelp("A manifest to run right after (optional).", valueName: "manifest"))
    var manifest: String?

    @Option(name: .long, help: ArgumentHelp("Where to cut, as a fraction of the height from the top (0 to 0.95).", valueName: "fraction"))
    var line: Double?

    @Flag(name: .long, help: "Remove the override: the manifest's strategy applies again.")
    var clear = false

    @OptionGroup var options: DropOptions

    func validate() throws {
        _ = try ItemLookup.reference(item)
        switch (line, clear) {
        case (nil, false): throw ValidationError("give --line <fraction> or --clear")
        case (.some, true): throw ValidationError("--line and --clear cannot be combined")
        case (let value?, false) where !(0..<0.95).contains(value):
            throw ValidationError("--line must be at least 0 and below 0.95, not \(value)")
        default: break
        }
    }

    func run() async throws {
        let loaded = try manifest.map(Wiring.loadManifest)
        let (_, url) = try options.locate(manifest: loaded)
        let store = try await Wiring.openStore(url, readOnly: false)
        let record: ItemRecord
        do {
            record = try await ItemLookup.one(item, in: store, storeName: store.displayName)
        } catch {
            await store.close()
            throw error
        }
        let now = Date()
        try await store.setLineOverride(itemID: record.id, fraction: clear ? nil : line, by: "cli", at: now)
        let message =
            clear
            ? "\(record.originalName): cut-line override removed; the manifest's strategy applies again"
            : "\(record.originalName): cut at \(NumberText.format(line ?? 0)) of the height (human override)"
        try await store.append([
            EventRecord(
                kind: "crop.override", drop: record.drop, itemID: record.id, stage: .crop, message: message,
                data: .object(["line": line.map(JSONValue.double) ?? .null]), at: now)
        ])
        await store.close()
        print(message)
        guard let manifest else {
            print("The next run of the drop recrops it and queues the new crop for review.")
            return
        }
        let reporter = TerminalReporter(quiet: false)
        let outcome = try await DropExecution.perform(
            manifestArgument: manifest, options: options, dryRun: false, reporter: reporter)
        reporter.finish()
        print(RunOutput.text(outcome))
        let code = outcome.report.exitCode
        if code != 0 { throw ExitCode(code) }
    }
}
