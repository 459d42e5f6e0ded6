internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStore
import Foundation

/// `elena-run status [manifest] [--item id]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show where things stand: per stage and state, what waits for review, what failed.",
        discussion: """
            With a manifest: the drop's nodes per stage and state (computed without changing anything).
            Without one: every drop in the library's ledger, with item counts per status.
            With --item: one item's record, its lineage and every recorded step, including the crop decision.
            """)

    @Argument(help: ArgumentHelp("A drop's YAML manifest (optional).", valueName: "manifest"))
    var manifest: String?

    @Option(name: .long, help: ArgumentHelp("An item id (or a unique prefix of at least 6 characters).", valueName: "id"))
    var item: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: LibraryOptions

    func validate() throws {
        if let item, item.count < 6 || !item.allSatisfy(\.isHexDigit) {
            throw ValidationError("--item needs at least 6 hexadecimal characters of an item id")
        }
    }

    func run() async throws {
        if let item {
            try await showItem(item)
            return
        }
        if let manifest {
            let outcome = try await DropExecution.perform(
                manifestArgument: manifest, options: options, dryRun: true, reporter: SilentReporter())
            print(json ? RunOutput.json(outcome) : RunOutput.text(outcome))
            return
        }
        try await showLibrary()
    }

    private func openStore(manifest loaded: LoadedManifest?) async throws -> (SQLRunStore, LibraryLayout) {
        let layout = LibraryLayout(root: Wiring.libraryRoot(option: options.library, manifest: loaded))
        let url = try Wiring.databaseURL(option: options.database, layout: layout)
        return (try await Wiring.openStore(url, readOnly: true), layout)
    }

    private func showLibrary() async throws {
        let (store, layout) = try await openStore(manifest: nil)
        defer { Task { await store.close() } }
        let items = try await store.items(drop: nil)
        let events = try await store.events(drop: nil, limit: 5)
        await store.close()
        let byDrop = Dictionary(grouping: items, by: \.drop)
        if json {
            let drops = byDrop.keys.sorted().map { drop in
                JSONValue.Member(
                    drop,
                    .object(
                        Dictionary(grouping: byDrop[drop] ?? [], by: \.status.rawValue).sorted { $0.key < $1.key }
                            .map { JSONValue.Member($0.key, .int($0.value.count)) }))
            }
            print(JSONValue.object(["library": .string(layout.root), "drops": .object(drops)]).pretty(), terminator: "")
            return
        }
        print("library \(layout.root) · \(store.displayName)")
        if items.isEmpty {
            print("No items yet. Run a manifest: elena-run pipelines/<drop>.yaml")
            return
        }
        for drop in byDrop.keys.sorted() {
            let rows = byDrop[drop] ?? []
            let counts = ItemStatus.allCases.compactMap { status -> String? in
                let count = rows.filter { $0.status == status }.count
                return count == 0 ? nil : "\(count) \(status.rawValue.replacingOccurrences(of: "_", with: " "))"
            }
            print("  \(drop): \(rows.count) items — \(counts.joined(separator: ", "))")
        }
        if !events.isEmpty {
            print("recent:")
            for event in events { print("  \(Timestamp.format(event.at))  \(event.message)") }
        }
    }

    private func showItem(_ prefix: String) async throws {
        let loaded = try manifest.map(Wiring.loadManifest)
        let (store, _) = try await openStore(manifest: loaded)
        let matches = try await store.item(idPrefix: prefix)
        guard matches.count == 1, let item = matches.first else {
            await store.close()
            if matches.isEmpty { throw CLIError.failure("no item id starts with '\(prefix)'") }
            throw CLIError.usage("'\(prefix)' matches \(matches.count) items; give more characters")
        }
        let runs = try await store.runs(itemID: item.id)
        await store.close()
        if json {
            let document = JSONValue.object([
                "id": .string(item.id.hex),
                "drop": .string(item.drop),
                "name": .string(item.originalName),
                "status": .string(item.status.rawValue),
                "cropped": item.croppedName.map(JSONValue.string) ?? .null,
                "flags": .array(item.flags.map(JSONValue.string)),
                "error": item.error.map(JSONValue.string) ?? .null,
                "lineage": item.lineage ?? .null,
                "runs": .array(
                    runs.map { run in
                        JSONValue.object([
                            "stage": .string(run.stage.rawValue),
                            "status": .string(run.status.rawValue),
                            "at": .string(Timestamp.format(run.startedAt)),
                            "output": run.output.value,
                            "error": run.error.map(JSONValue.string) ?? .null,
                        ])
                    }),
            ])
            print(document.pretty(), terminator: "")
            return
        }
        print("item \(item.id.hex)")
        print("  name      \(item.originalName)  (drop \(item.drop))")
        print("  status    \(item.status.rawValue)\(item.error.map { " — \($0)" } ?? "")")
        if let width = item.width, let height = item.height { print("  size      \(width)x\(height)") }
        if let cropped = item.croppedName { print("  crop      \(cropped)") }
        if !item.flags.isEmpty { print("  flags     \(item.flags.joined(separator: ", "))") }
        if let lineage = item.lineage, case .object(let members) = lineage {
            print("  lineage")
            for member in members where member.value != .null {
                print("    \(member.key): \(member.value.serialized())")
            }
        }
        print("  steps")
        for run in runs {
            var line = "    \(Timestamp.format(run.startedAt))  \(run.stage.rawValue)  \(run.status.rawValue)"
            if let error = run.error { line += " — \(error)" }
            print(line)
            if run.stage == .crop, let decision = run.output.value["decision"] {
                print("      decision: \(decision.serialized())")
            }
            if run.stage == .detect, run.output.value["faces"]?.arrayValue?.isEmpty == false {
                print("      detections: \(run.output.value.serialized())")
            }
        }
    }
}
