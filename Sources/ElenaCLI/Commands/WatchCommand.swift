internal import ArgumentParser
import Dispatch
import ElenaCore
import ElenaEngine
import ElenaStages
import Foundation
import Synchronization

/// `elena-run watch <manifest>`: runs the drop again whenever its files change.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep a drop running: pick up images as ComfyUI writes them, and decisions as you make them.",
        discussion: """
            Watches the manifest's source folder (where ComfyUI saves), the library's review folders and \
            the manifest itself, and runs the drop again whenever something changed: new images are \
            ingested, cropped and queued for review; crops moved to 4_approved/ are published. Every run is \
            cached, so each one does only the new work.

            A file is read only once it has stayed unchanged for --settle seconds and no process has it \
            open for writing, so an image ComfyUI (or a copy) is still writing is never read half-done, \
            however slowly it is written. With a generate: section, the prompts are generated once at the \
            start.

            Ctrl-C stops watching after the run in progress.

            Examples:
              elena-run watch pipelines/drop-03.yaml
              elena-run watch pipelines/drop-03.yaml --settle 5
            """)

    @Argument(help: ArgumentHelp("The drop's YAML manifest.", valueName: "manifest"))
    var manifest: String

    @Option(name: .long, help: ArgumentHelp("Seconds a file must stay unchanged (and closed) before it is read.", valueName: "seconds"))
    var settle: Double = 2

    @Option(name: .long, help: ArgumentHelp("Seconds between looks at the folders.", valueName: "seconds"))
    var interval: Double = 0.5

    @OptionGroup var options: DropOptions
    @OptionGroup var work: JobsOptions

    func validate() throws {
        guard settle >= 0, settle <= 3600 else { throw ValidationError("--settle must be between 0 and 3600 seconds") }
        guard interval >= 0.05, interval <= 60 else { throw ValidationError("--interval must be between 0.05 and 60 seconds") }
    }

    func run() async throws {
        let stopped = Mutex(false)
        let interrupts = Interrupts.hold { stopped.withLock { $0 = true } }
        defer { Interrupts.release(interrupts) }
        let loaded = try Wiring.loadManifest(manifest)
        let layout = options.layout(manifest: loaded)
        let source = DropSession.sourceFolder(for: loaded.manifest, manifestFolder: loaded.folder, home: Wiring.home)
        let folders = [source] + ReviewFolder.allCases.map { layout.absolute($0.rawValue) }
        say("watching \(source) and the review folders in \(layout.root) (Ctrl-C stops)")

        var tracker = SettleTracker(quiet: settle)
        var lastRun: [String: FileStamp]?
        var rounds = 0
        let start = ContinuousClock.now
        while !stopped.withLock({ $0 }) {
            let seen = Self.look(folders, manifest: loaded.path)
            let elapsed = ContinuousClock.now - start
            let now = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            var waiting = tracker.observe(seen.stamps, at: now, wallClock: Date().timeIntervalSince1970)
            // A file open for writing waits, however long it stays unchanged. Only files that are new or changed
            // since the last run can start one, so /proc is read only when there are some.
            let candidates = seen.stamps.filter { lastRun?[$0.key] != $0.value }
            let writing = candidates.isEmpty ? [] : OpenWriters.paths(under: folders)
            for (path, real) in seen.realPaths where writing.contains(real) { waiting.insert(path) }
            let ready = seen.stamps.filter { !waiting.contains($0.key) }
            // A manifest being saved is never read half-written: the run waits until it is complete.
            if ready != lastRun && !waiting.contains(loaded.path) {
                await runOnce(notReady: waiting, generate: rounds == 0)
                rounds += 1
                // What the run itself wrote (review copies, uploaded copies) is not news; anything else that changed
                // while it ran (a decision moved into 4_approved, a new source file, the manifest) is, and starts
                // the next run: it was not there when this run read the folders.
                let after = Self.look(folders, manifest: loaded.path)
                let written = [ReviewFolder.review, .uploaded].map { layout.absolute($0.rawValue) + "/" }
                let byTheRun = { (path: String) in written.contains { path.hasPrefix($0) } }
                var next = after.stamps.filter { !waiting.contains($0.key) && byTheRun($0.key) }
                for (path, stamp) in ready where !byTheRun(path) { next[path] = stamp }
                lastRun = next
                _ = tracker.observe(after.stamps, at: now)
            }
            try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
        }
        say("watch stopped after \(rounds) run\(rounds == 1 ? "" : "s")")
    }

    /// One run of the drop, summed up in one line; errors are printed, never fatal (watching goes on).
    func runOnce(notReady: Set<String>, generate: Bool) async {
        let reporter = TerminalReporter(quiet: true)
        do {
            let outcome = try await DropExecution.perform(
                manifestArgument: manifest, options: options, jobs: work.jobs, dryRun: false, reporter: reporter,
                notReady: notReady,
                generate: generate)
            let writing = notReady.isEmpty ? [] : ["\(notReady.count) file\(notReady.count == 1 ? "" : "s") still being written"]
            say("run: " + RunOutput.tally(outcome, manifest: manifest, extra: writing))
        } catch let error as CLIError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            say("run failed; watching on (fix the problem and save, or Ctrl-C)")
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        }
    }

    func say(_ text: String) {
        let time = Timestamp.format(Date()).dropFirst(11).prefix(8)
        FileHandle.standardOutput.write(Data("[\(time)] \(text)\n".utf8))
    }

    /// Every file under the folders (and the manifest) with its stamp, and each one's real path.
    static func look(_ folders: [String], manifest: String) -> (stamps: [String: FileStamp], realPaths: [String: String]) {
        var stamps: [String: FileStamp] = [:]
        var realPaths: [String: String] = [:]
        for folder in folders where FileSystem.isDirectory(folder) {
            guard let found = try? FileSystem.survey(folder, recursive: true) else { continue }
            let root = FileSystem.realPath(folder) ?? folder
            for entry in found.entries {
                stamps[entry.path] = entry.stamp
                realPaths[entry.path] = entry.path.hasPrefix(folder + "/") ? root + "/" + entry.relativePath : entry.path
            }
        }
        if let stamp = FileSystem.stamp(manifest) { stamps[manifest] = stamp }
        return (stamps, realPaths)
    }
}
