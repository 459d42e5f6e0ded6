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
            With a manifest: the drop's nodes per stage and state (computed without changing anything). \
            Without one: every drop in the library's ledger, with item counts per status. \
            With --item: one item, named by its id or a file name (the original's or a crop's): where it stands, \
            the cut and why, its faces, flags, lineage and steps; --json prints the whole record.

            Examples:
              elena-run status pipelines/drop-03.yaml
              elena-run status
              elena-run status --item ComfyUI_00004_.png
            """)

    @Argument(help: ArgumentHelp("A drop's YAML manifest (optional).", valueName: "manifest"))
    var manifest: String?

    @Option(
        name: .long,
        help: ArgumentHelp("An item: its id (or a unique prefix of at least 6 characters) or a file name.", valueName: "item"))
    var item: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: DropOptions

    func validate() throws {
        if let item { _ = try ItemLookup.reference(item) }
    }

    func run() async throws {
        if let item {
            try await showItem(item)
            return
        }
        if let manifest {
            var outcome = try await DropExecution.perform(
                manifestArgument: manifest, options: options, dryRun: true, reporter: SilentReporter())
            outcome.isStatus = true
            print(json ? RunOutput.json(outcome) : RunOutput.text(outcome))
            // The same exit code as the run and the dry run (README, "Exit codes").
            let code = outcome.report.exitCode
            if code != 0 { throw ExitCode(code) }
            return
        }
        try await showLibrary()
    }

    private func openStore(manifest loaded: LoadedManifest?) async throws -> (SQLRunStore, LibraryLayout) {
        let (layout, url) = try options.locate(manifest: loaded)
        return (try await Wiring.openStore(url, readOnly: true), layout)
    }

    private func showLibrary() async throws {
        let (store, layout) = try await openStore(manifest: nil)
        defer { Task { await store.close() } }
        let counts = try await store.statusCounts()
        let events = try await store.events(drop: nil, limit: 5)
        await store.close()
        let byDrop = Dictionary(grouping: counts, by: \.drop)
        if json {
            let drops = byDrop.keys.sorted().map { drop in
                JSONValue.Member(
                    drop,
                    .object(
                        (byDrop[drop] ?? []).sorted { $0.status.rawValue < $1.status.rawValue }
                            .map { JSONValue.Member($0.status.rawValue, .int($0.count)) }))
            }
            print(JSONValue.object(["library": .string(layout.root), "drops": .object(drops)]).pretty(), terminator: "")
            return
        }
        print("library \(layout.root) · \(store.displayName)")
        if counts.isEmpty {
            print("No items yet. Run a manifest: elena-run pipelines/<drop>.yaml")
            return
        }
        for drop in byDrop.keys.sorted() {
            let rows = byDrop[drop] ?? []
            let total = rows.reduce(0) { $0 + $1.count }
            let counts = ItemStatus.allCases.compactMap { status -> String? in
                let count = rows.first { $0.status == status }?.count ?? 0
                return count == 0 ? nil : "\(count) \(status.rawValue.replacingOccurrences(of: "_", with: " "))"
            }
            print("  \(drop): \(total) item\(total == 1 ? "" : "s") — \(counts.joined(separator: ", "))")
        }
        if !events.isEmpty {
            print("recent:")
            for event in events { print("  \(Timestamp.format(event.at))  \(event.message)") }
        }
    }

    private func showItem(_ reference: String) async throws {
        let loaded = try manifest.map(Wiring.loadManifest)
        let (store, _) = try await openStore(manifest: loaded)
        let item: ItemRecord
        let runs: [StageRecord]
        let reviews: [ReviewRecord]
        let sends: [SendRecord]
        do {
            item = try await ItemLookup.one(reference, in: store, storeName: store.displayName)
            // The generate step that made it, when a drop's generate: did, comes first.
            let made = item.lineage?["generateStep"]?.stringValue.flatMap(Digest.init(hex:)).map(CacheKey.init(trusted:))
            let generated = made == nil ? [] : Array(try await store.cacheRecords(keys: made.map { [$0] } ?? []).values)
            runs = generated + (try await store.runs(itemID: item.id))
            reviews = try await store.reviews(drop: item.drop).filter { $0.itemID == item.id }
            sends = try await store.sends(items: [item.id])
        } catch {
            await store.close()
            throw error
        }
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
                "sends": .array(
                    sends.map { send in
                        JSONValue.object([
                            "fan": .string(send.fan), "path": .string(send.via ?? "send"),
                            "price_cents": send.priceCents.map(JSONValue.int) ?? .null,
                            "sent_at": .string(Timestamp.format(send.sentAt)), "confirmed": .bool(send.isConfirmed),
                            "purchased_at": send.purchasedAt.map { .string(Timestamp.format($0)) } ?? .null,
                            "campaign": send.campaignID.map(JSONValue.string) ?? .null,
                        ])
                    }),
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
        print(Self.summary(item, runs: runs, reviews: reviews, sends: sends).joined(separator: "\n"))
    }

    /// One item in a few readable lines: where it stands, the cut and why, the faces, flags, lineage, steps.
    static func summary(_ item: ItemRecord, runs: [StageRecord], reviews: [ReviewRecord], sends: [SendRecord] = []) -> [String] {
        var lines = ["\(item.originalName)  (item \(item.id.hex), drop \(item.drop))"]
        func row(_ label: String, _ text: String) { lines.append("  " + label.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + text) }
        let review = item.croppedDigest.flatMap { digest in reviews.first { $0.cropDigest == digest } }
        var standing = item.status.rawValue.replacingOccurrences(of: "_", with: " ")
        if let review { standing += " — \(review.fileName) in \(review.folder.rawValue)/" }
        if let error = item.error { standing += " — \(error)" }
        row("status", standing)
        var original = item.originalPath
        if let width = item.width, let height = item.height { original += ", \(width)x\(height)" }
        row("original", original)
        let crop = runs.last { $0.stage == .crop && $0.status == .succeeded && $0.outputDigest == item.croppedDigest }
        if let name = item.croppedName {
            var text = name
            if let decision = crop?.output.value["decision"] {
                let strategy = decision["applied"]?.stringValue ?? "?"
                let line = decision["line"]?.intValue.map { "cut at \($0) px from the top" } ?? ""
                text += ": \(strategy)\(line.isEmpty ? "" : ", " + line)"
                if let reason = decision["reason"]?.stringValue { text += " — \(reason)" }
            }
            row("crop", text)
        }
        if let identity = crop?.output.value["decision"]?["identity"], let scores = identity["scores"]?.arrayValue?.compactMap(\.doubleValue) {
            // auto: each face's score against the persona, and the thresholds it was decided by.
            let keep = identity["keepAbove"]?.doubleValue ?? 0
            let lips = identity["lipsAbove"]?.doubleValue ?? 0
            let described = scores.map { score in
                String(format: "%.3f", score) + (score >= keep ? " (hers)" : score >= lips ? " (close)" : "")
            }
            row(
                "identity",
                "face scores " + described.joined(separator: ", ") + " against the persona; kept from "
                    + "\(NumberText.format(keep)), lips only from \(NumberText.format(lips))")
        }
        let detector = crop?.output.value["detector"]?.stringValue
        if let detect = runs.last(where: { $0.stage == .detect && $0.status == .succeeded && $0.output.value["detector"]?.stringValue == detector }),
            let detectorName = detector, detectorName != "none"
        {
            let faces = detect.output.value["faces"]?.arrayValue ?? []
            let described = faces.map { face -> String in
                let confidence = face["confidence"]?.doubleValue.map { String(format: "%.2f", $0) } ?? "?"
                let box = face["box"]
                let place = [box?["x"], box?["y"], box?["width"], box?["height"]].map { $0?.doubleValue.map { String(Int($0)) } ?? "?" }
                return "confidence \(confidence) at \(place[0]),\(place[1]) \(place[2])x\(place[3])"
            }
            row("faces", faces.isEmpty ? "none found (\(detectorName))" : "\(faces.count) (\(detectorName)): " + described.joined(separator: "; "))
        }
        if !item.flags.isEmpty { row("flags", item.flags.map(DropFacts.words).joined(separator: ", ")) }
        if let lineage = item.lineage, case .object(let members) = lineage {
            let shown = members.filter { $0.value != .null && $0.value != .bool(false) && $0.value != .array([]) }
                .map { "\($0.key) \($0.value.stringValue ?? $0.value.serialized())" }
            if !shown.isEmpty { row("lineage", shown.joined(separator: ", ")) }
        }
        if !sends.isEmpty {
            // Who has it, by path: elena-run's own sends and those reconcile found (by hand in Fanvue…).
            var byPath: [String: [SendRecord]] = [:]
            for send in sends { byPath[send.via ?? "send", default: []].append(send) }
            let bought = sends.filter { $0.purchasedAt != nil }.count
            let parts = byPath.sorted { $0.key < $1.key }.map { path, list in
                "\(list.count) \(SalesReport.pathLabels[path] ?? path)"
                    + (path == "manual" ? " (" + list.map { "\($0.fan.prefix(8)) on \(Timestamp.format($0.sentAt).prefix(10))" }.joined(separator: ", ") + ")" : "")
            }
            row("sent", "\(sends.count) fan\(sends.count == 1 ? "" : "s"), \(bought) bought: " + parts.joined(separator: "; "))
        }
        lines.append("  steps")
        for run in runs {
            var line = "    \(Timestamp.format(run.startedAt))  \(run.stage.rawValue)  \(run.status.rawValue)"
            if let error = run.error { line += " — \(error)" }
            lines.append(line)
        }
        lines.append("(--json prints the whole record: every step's output, detections with their landmarks)")
        return lines
    }
}
