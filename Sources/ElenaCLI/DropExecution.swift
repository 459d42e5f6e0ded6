import ElenaComfy
import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation
import Logging

/// Everything known after running (or planning) one manifest, for the output formatters.
struct DropOutcome {
    var loaded: LoadedManifest
    var report: RunReport
    var layout: LibraryLayout
    var database: DatabaseURL
    var outbox: String
    var sourceFolder: String
    /// Fanvue API calls the run made (nil when it made none).
    var fanvueRequests: Int?
    /// What `--dry-run --online` found on Fanvue.
    var online: OnlineCheck?
    /// Shown by `status <manifest>` (a look at where things stand) rather than as a dry run.
    var isStatus = false
}

/// The read-only look at Fanvue a `--dry-run --online` makes: the login works, and which vault folders exist.
struct OnlineCheck {
    var account: String
    var folders: [String: Bool]
}

/// Runs or plans one manifest with the real services.
enum DropExecution {
    static func perform(
        manifestArgument: String, options: any LibraryLocating, jobs: Int? = nil, dryRun: Bool, online: Bool = false,
        reporter: any RunReporter,
        notReady: Set<String> = [], generate: Bool = true, sameDrop: Bool = false
    ) async throws -> DropOutcome {
        let loaded = try Wiring.loadManifest(manifestArgument)
        for warning in loaded.warnings {
            FileHandle.standardError.write(Data((warning.rendered(source: loaded.text) + "\n").utf8))
        }
        let (layout, database) = try options.locate(manifest: loaded)
        let outbox = DropSession.outbox(
            for: loaded.manifest, manifestFolder: loaded.folder, home: Wiring.home, layout: layout)

        let sourceFolder = DropSession.sourceFolder(for: loaded.manifest, manifestFolder: loaded.folder, home: Wiring.home)
        do {
            try DropSession.checkSource(sourceFolder, manifest: loaded.manifest)
        } catch {
            throw CLIError.manifest(ManifestError(diagnostics: [error.diagnostic], source: loaded.text))
        }
        if !dryRun {
            do {
                try FileSystem.makeDirectory(layout.root)
            } catch {
                throw CLIError.cannotStart("cannot create the library folder: \(error)")
            }
            // Refused before any work, rather than every item failing on its first write.
            let readOnly = FileSystem.isReadOnlyFileSystem(layout.root)
            if readOnly || access(layout.root, W_OK) != 0 {
                throw CLIError.cannotStart(
                    "the library \(layout.root) is " + (readOnly ? "on a read-only file system" : "not writable by you")
                        + "; make it writable (or choose another with --library) and run again")
            }
        }
        let detector = try Wiring.faceDetector(for: loaded.manifest, dryRun: dryRun, reporter: reporter)
        let fanvue = try Wiring.fanvue(for: loaded.manifest, dryRun: dryRun, reporter: reporter)
        let persona = try Wiring.persona(for: loaded, layout: layout, detector: detector, dryRun: dryRun, reporter: reporter)
        /// One run (or dry run) against the ledger; nil when a dry run read the ledger in place and another run
        /// wrote it meanwhile (what was read may mix two states).
        func attempt(inPlace: Bool) async throws -> RunReport? {
            let store = try await Wiring.openStore(database, readOnly: dryRun, inPlace: inPlace)
            do {
                try await checkDropName(loaded, store: store, sameDrop: sameDrop)
            } catch {
                await store.close()
                throw error
            }
            var session = DropSession(
                manifest: loaded.manifest, manifestFolder: loaded.folder, home: Wiring.home,
                environment: RunEnvironment(
                    layout: layout, cache: store, dryRun: dryRun, concurrency: Wiring.concurrency(jobs),
                    reporter: reporter, locks: SQLRunStore.workLocks(for: database), logger: Wiring.logger("elena.run")),
                services: DropServices(
                    store: store, fanvueStore: store, codec: OpenCVCodec(), detector: detector, outbox: outbox,
                    fanvue: fanvue.client, fanvueTarget: fanvue.target))
            session.services.identifier = persona?.identifier
            session.services.persona = persona?.profile
            session.uploadStage = Wiring.uploadStage
            session.comfy = { server in ComfyClient(baseURL: server, logger: Wiring.logger("elena.comfy")) }
            session.notReady = notReady
            session.generates = generate
            let report: RunReport
            do {
                // Ctrl-C while generating cancels the prompts this run queued on ComfyUI before exiting.
                let prepared = session
                let generation = try await Interrupts.cancelling { try await prepared.generate() }
                report = try await session.run(generation: generation)
                if !dryRun && report.stopped == nil {
                    try await store.recordDropRun(loaded.manifest.drop, manifest: loaded.path, at: Date())
                }
            } catch let error as ManifestError {
                await store.close()
                throw CLIError.manifest(error)
            } catch let error as GenerationInterrupted {
                await store.close()
                throw CLIError.interrupted(error.description)
            } catch {
                let disturbed = store.snapshotWasDisturbed
                await store.close()
                if disturbed { return nil }
                throw CLIError.failure("\(error)")
            }
            let disturbed = store.snapshotWasDisturbed
            await store.close()
            return disturbed ? nil : report
        }
        var report: RunReport
        if let read = try await attempt(inPlace: true) {
            report = read
        } else {
            // Another run wrote the ledger while this one read it in place: read it again, through a copy.
            reporter.note("the ledger changed while it was read (another run is writing); reading it again from a copy")
            guard let read = try await attempt(inPlace: false) else { throw CLIError.failure("the ledger could not be read") }
            report = read
        }
        var check: OnlineCheck?
        if dryRun, online, loaded.manifest.publish.to == .fanvue {
            check = try await onlineCheck(report.plan, client: fanvue.client)
        }
        return DropOutcome(
            loaded: loaded, report: report, layout: layout, database: database, outbox: outbox,
            sourceFolder: sourceFolder, fanvueRequests: await fanvue.client?.counter.api, online: check)
    }

    /// Refuses a drop name that another manifest runs: two manifests with one `drop:` would merge their items and
    /// decisions (an item one of them rejected would come back into review through the other).
    static func checkDropName(_ loaded: LoadedManifest, store: any RunStore, sameDrop: Bool) async throws {
        let drop = loaded.manifest.drop
        // The same file reached through a symbolic link is the same manifest.
        func real(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        guard !sameDrop, let owner = try await store.dropManifest(drop), owner != loaded.path, real(owner) != real(loaded.path)
        else { return }
        let gone = FileManager.default.fileExists(atPath: owner) ? "" : " (that file is gone: if it moved here, say so)"
        throw CLIError.manifest(
            ManifestError(
                diagnostics: [
                    Diagnostic(
                        at: loaded.manifest.locations["drop"], key: "drop",
                        "drop '\(drop)' is already run by another manifest, \(owner)\(gone); two manifests with one drop "
                            + "name would merge their items and decisions. Rename 'drop:' here, or, if this file replaces "
                            + "that one, run it once with --same-drop")
                ], source: try? String(contentsOfFile: loaded.path, encoding: .utf8)))
    }

    /// `--online`: GETs only, never a write.
    static func onlineCheck(_ plan: DropPlan, client: FanvueClient?) async throws -> OnlineCheck {
        guard let client else {
            throw CLIError.failure("--online needs the Fanvue settings and a login: run `elena-run auth login` first")
        }
        do {
            let account = try await client.account
            var folders: [String: Bool] = [:]
            for folder in Set(plan.items.compactMap(\.publish.vault)).sorted() {
                folders[folder] = try await client.folderExists(folder)
            }
            return OnlineCheck(account: account, folders: folders)
        } catch {
            throw CLIError.failure("the online check failed: \(error)")
        }
    }
}

