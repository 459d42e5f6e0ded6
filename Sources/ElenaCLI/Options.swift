internal import ArgumentParser
import ElenaCore
import ElenaStore
import Foundation

/// The ledger's database and how much to print: every command that opens a library accepts these.
struct LedgerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ledger database: postgres://user:password@host:port/db (Supabase works) or a SQLite file.",
            discussion: """
                Default: $DATABASE_URL, else <library>/elena.db. A PostgreSQL connection lost mid-run, or a SQLite \
                file locked by another process, is waited for up to $ELENA_DB_WAIT seconds (default 60); past \
                that the run stops cleanly and the next run goes on.
                """, valueName: "url"))
    var database: String?

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Also print every ledger statement, the database driver's full error text, and every Fanvue and ComfyUI request and step of the run (to standard error).",
            discussion: "For diagnosing a problem; errors are otherwise one sentence in words. ELENA_LOG=<level> (trace, debug, info, warning, error) sets the log alone. Requests are shown by method, path, status and time: never a token, a header, a signed URL's query or a body."))
    var verbose = false
}

/// Where the library and its ledger are, for a command with a manifest (`DropOptions`) or without (`LibraryOptions`).
protocol LibraryLocating {
    var library: String? { get }
    var ledger: LedgerOptions { get }
}

extension LibraryLocating {
    var database: String? { ledger.database }

    /// Turns on the ledger's trace (`ELENA_TRACE_DB`, read when the first database opens) and the debug log of
    /// requests and steps (`ELENA_LOG=debug`, unless it names another level) for `--verbose`.
    func applyVerbosity() {
        guard ledger.verbose else { return }
        setenv("ELENA_TRACE_DB", "1", 1)
        setenv("ELENA_LOG", "debug", 0)
    }

    /// The library's folders, from the option, the environment and the manifest's `library:`; `--verbose` takes
    /// effect first (every command that opens a library comes here, `doctor`, `watch` and `persona` included).
    func layout(manifest: LoadedManifest?) -> LibraryLayout {
        applyVerbosity()
        return LibraryLayout(root: Wiring.libraryRoot(option: library, manifest: manifest))
    }

    /// The library's folders and its ledger's database.
    func locate(manifest: LoadedManifest?) throws -> (layout: LibraryLayout, database: DatabaseURL) {
        let layout = layout(manifest: manifest)
        return (layout, try Wiring.databaseURL(option: database, layout: layout))
    }
}

/// The library options of a command that takes no manifest.
struct LibraryOptions: ParsableArguments, LibraryLocating {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The library folder (raw images, crops, review folders, outbox, SQLite ledger).",
            discussion: "Default: $ELENA_LIBRARY, else ~/elena-content-pipeline.", valueName: "path"))
    var library: String?

    @OptionGroup var ledger: LedgerOptions
}

/// The library options of a command that takes a manifest, whose `library:` is a default.
struct DropOptions: ParsableArguments, LibraryLocating {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The library folder (raw images, crops, review folders, outbox, SQLite ledger).",
            discussion: "Default: $ELENA_LIBRARY, else the manifest's `library:`, else ~/elena-content-pipeline.",
            valueName: "path"))
    var library: String?

    @OptionGroup var ledger: LedgerOptions
}

/// `--jobs`, for the commands that work on images (run, review, watch).
struct JobsOptions: ParsableArguments {
    @Option(
        name: [.customShort("j"), .long],
        help: ArgumentHelp("How many images to work on at once (default: one per core).", valueName: "n"))
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 || jobs > 64 { throw ValidationError("--jobs must be between 1 and 64, not \(jobs)") }
    }
}
