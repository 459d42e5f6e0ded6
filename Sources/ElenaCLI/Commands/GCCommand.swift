internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStore
import Foundation

/// `elena-run gc`: what the ledger is made of, and the removal of records that no longer answer anything.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Show what the ledger is made of; remove records of files that are gone.",
        discussion: """
            The rule: a record is removed only when the file it describes is gone, so nothing can ever be answered \
            from it again:
              - a finished step whose output file is gone (2_cropped/, 1_raw/): a later run that needs it makes it \
            again, as it would anyway (a cache hit needs the file);
              - the stat cache's entry for a source file that is gone;
              - the copies of the run cache made before it last changed (a run reads a copy of a part's steps only \
            while nothing has changed since it was made, and makes them again).
            Everything else is kept: items, review decisions, publications, uploads, sends, posts, sales and the \
            event log (append-only: what the guarantees rest on), and every step whose file is still there (an \
            earlier setting's crop is a cache hit when the manifest goes back to it). SQLite reuses the space \
            freed; the file itself does not shrink (`sqlite3 elena.db VACUUM` does that).

            Examples:
              elena-run gc --dry-run      what would go, and the ledger's size per item
              elena-run gc                remove it
            """)

    @Flag(name: .long, help: "Say what would be removed, remove nothing.")
    var dryRun = false

    @OptionGroup var options: LibraryOptions

    func run() async throws {
        let (layout, url) = try options.locate(manifest: nil)
        let store = try await Wiring.openStore(url, readOnly: dryRun)
        do {
            try await collect(store, layout: layout)
        } catch {
            await store.close()
            throw CLIError.failure("\(error)")
        }
        await store.close()
    }

    private func collect(_ store: SQLRunStore, layout: LibraryLayout) async throws {
        let size = try await store.size()
        print("ledger \(store.displayName): \(FileSystem.text(bytes: Int(size.total))) for \(size.items) item\(size.items == 1 ? "" : "s")"
            + (size.items > 0 ? " (\(FileSystem.text(bytes: Int(size.total) / size.items)) per item)" : ""))
        for (name, bytes) in size.tables.prefix(8) where bytes > 0 {
            let share = size.items > 0 ? "  \(bytes / Int64(size.items)) bytes per item" : ""
            print("  \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(FileSystem.text(bytes: Int(bytes)).leftPadded(9))\(share)")
        }
        let goneSteps = try await store.runArtifacts().filter { !FileSystem.exists(layout.absolute($0.path)) }.map(\.key)
        let goneStats = try await store.statPaths().filter { !FileSystem.exists($0) }
        let verb = dryRun ? "would remove" : "removed"
        // Removing a step changes the run cache: every copy made before is outdated then.
        let copies = try await store.runCacheCopies()
        let outdated = goneSteps.isEmpty ? copies.outdated : copies.all
        let copiesLine =
            outdated > 0
            ? "\(verb) \(outdated) cop\(outdated == 1 ? "y" : "ies") of the run cache made before it last changed (runs make them again)"
            : nil
        if goneSteps.isEmpty && goneStats.isEmpty {
            if !dryRun, outdated > 0 { _ = try await store.removeOutdatedRunCacheCopies() }
            if let copiesLine { print(copiesLine) }
            print("Nothing \(outdated > 0 ? "else " : "")to remove: every recorded step's file and every remembered source file is there.")
            return
        }
        var removedSteps = goneSteps.count
        if !dryRun {
            removedSteps = try await store.removeRuns(goneSteps)
            try await store.removeStatEntries(goneStats)
            _ = try await store.removeOutdatedRunCacheCopies()
            try await store.append([
                EventRecord(
                    kind: "ledger.gc", drop: nil, message: "gc: removed \(removedSteps) finished steps and \(goneStats.count) stat entries of files that are gone",
                    data: .object(["steps": .int(removedSteps), "stat_entries": .int(goneStats.count)]), at: Date())
            ])
        }
        print("\(verb) \(removedSteps) finished step\(removedSteps == 1 ? "" : "s") whose file is gone (a run that needs one makes it again)")
        print("\(verb) \(goneStats.count) stat cache entr\(goneStats.count == 1 ? "y" : "ies") of source files that are gone")
        if let copiesLine { print(copiesLine) }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
