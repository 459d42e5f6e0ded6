internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaReview
import ElenaStages
import ElenaStore
import ElenaVision
import Foundation
import Glibc

/// `elena-run review <manifest>`: the review page on 127.0.0.1.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Open the review page: approve, reject, retag, reprice and recrop a drop's crops in the browser.",
        discussion: """
            Runs the drop first (so new images reach review), then serves a page on 127.0.0.1 only, at a URL with a \
            random token that it prints (and opens in the browser unless --no-browser). Decisions are saved at once \
            and the review folders are moved to match; moving files in the folders works at the same time. \
            Keys: a approve, r reject, w back to waiting, arrows or j/k move, t tags, o originals with the cut, \
            u undo, x or space select, 1-5 filters, ? help. Ctrl-C stops the server; then \
            run the manifest again to publish what was approved.

            Examples:
              elena-run review pipelines/drop-03.yaml
              elena-run review pipelines/drop-03.yaml --no-run --port 8080 --no-browser
            """)

    @Argument(help: ArgumentHelp("The drop's YAML manifest.", valueName: "manifest"))
    var manifest: String

    @Option(name: .long, help: ArgumentHelp("Port to listen on on 127.0.0.1 (default: a free one).", valueName: "port"))
    var port: Int?

    @Flag(name: .long, help: "Print the URL without opening a browser.")
    var noBrowser = false

    @Flag(name: .long, help: "Serve the review page without running the drop first.")
    var noRun = false

    @OptionGroup var options: DropOptions
    @OptionGroup var work: JobsOptions

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
    }

    static func portInUse(_ port: Int) -> CLIError {
        CLIError.usage(
            "port \(port) on 127.0.0.1 is in use (another review page?): choose another with --port, or leave --port out "
                + "for a free one")
    }

    func run() async throws {
        let options = options
        let manifest = manifest
        let port = port ?? 0
        if port != 0, case .failure(let problem) = LoopbackSocket.bind(port: port) {
            if problem.code == EACCES {
                throw CLIError.usage(
                    "port \(port) needs root (ports below 1024 do): choose one above 1024 with --port, or leave --port out")
            }
            if problem.code == EADDRINUSE { throw Self.portInUse(port) }
        }
        if !noRun {
            let reporter = TerminalReporter(quiet: false)
            let outcome = try await DropExecution.perform(
                manifestArgument: manifest, options: options, jobs: work.jobs, dryRun: false, reporter: reporter)
            reporter.finish()
            let waiting = outcome.report.waitingItems.count
            FileHandle.standardOutput.write(
                Data("drop \(outcome.report.plan.drop): \(outcome.report.plan.items.count) items, \(waiting) waiting for review\n".utf8))
        }
        let loaded = try Wiring.loadManifest(manifest)
        let (layout, database) = try options.locate(manifest: loaded)
        let store = try await Wiring.openStore(database, readOnly: false)
        let publish = loaded.manifest.publish
        let service = ReviewService(
            drop: loaded.manifest.drop, manifestDisplay: manifest,
            defaults: ItemPublish(
                vault: publish.vault, priceCents: publish.priceCents, tags: publish.tags, caption: publish.caption,
                category: publish.category),
            layout: layout, store: store, codec: OpenCVCodec(),
            recropper: { item, line in
                try await store.setLineOverride(itemID: item, fraction: line, by: "page", at: Date())
                try await store.append([
                    EventRecord(
                        kind: "crop.override", drop: loaded.manifest.drop, itemID: item, stage: .crop,
                        message: "cut line set to \(NumberText.format(line)) of the height on the review page",
                        data: .object(["line": .double(line)]), at: Date())
                ])
                _ = try await DropExecution.perform(
                    manifestArgument: manifest, options: options, jobs: work.jobs, dryRun: false,
                    reporter: SilentReporter())
            })
        let server = ReviewServer(service: service, layout: layout, codec: OpenCVCodec())
        let token = server.token
        let openBrowser = !noBrowser
        // Held for the server's whole life, with nothing to do: the server's own handlers stop it gracefully, and
        // SIGTERM and Ctrl-C must not have their default effect (ending the process mid-write) meanwhile.
        let interrupts = Interrupts.hold()
        defer { Interrupts.release(interrupts) }
        do {
            try await server.run(port: port) { port in
                let url = "http://127.0.0.1:\(port)/?token=\(token)"
                // Written straight to the file descriptor: scripts wait for this line, so it must not sit in a buffer.
                FileHandle.standardOutput.write(
                    Data("Review page: \(url)\nOnly this machine can open it; the link is the key. Press Ctrl-C to stop.\n".utf8))
                if openBrowser { Self.open(url) }
            }
        } catch {
            await store.close()
            if port != 0 && "\(error)".contains("Address already in use") { throw Self.portInUse(port) }
            throw CLIError.failure("the review server stopped: \(TransportWords.describe(error))")
        }
        await store.close()
        print("Review server stopped. Run `elena-run \(manifest)` to publish what was approved.")
    }

    /// Opens the default browser when there is a desktop to open it on.
    static func open(_ url: String) {
        let environment = ProcessInfo.processInfo.environment
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else {
            print("(No desktop found: open the link in a browser on this machine.)")
            return
        }
        for candidate in ["/usr/bin/xdg-open", "/usr/bin/open"] where FileManager.default.isExecutableFile(atPath: candidate) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: candidate)
            process.arguments = [url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            return
        }
    }
}
