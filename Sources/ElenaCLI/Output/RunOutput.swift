import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import Foundation

/// Turns a run report into the text and JSON a user sees.
enum RunOutput {
    /// One planned outbox file: what would be published, with its metadata and whether it waits for review.
    struct PlannedFile {
        var item: PlannedItem
        var file: String
        var state: String
        var caption: String
    }

    static func plannedFiles(_ outcome: DropOutcome) -> [PlannedFile] {
        let plan = outcome.report.plan
        let stage: StageName = plan.manifest.publish.to == .fanvue ? .upload : .publish
        return plan.items.indices.compactMap { index in
            let item = plan.items[index]
            let state: String
            switch outcome.report.states[NodeID(stage, item: index)] {
            case .planned?: state = "now"
            case .ran?: state = "published now"
            case .cached?: state = "published"
            case .blocked(let reason)?: state = reason == "awaiting review" ? "after review" : "blocked: \(reason)"
            case .waiting?: state = "after review"
            case .skipped?, .failed?, nil: return nil
            }
            let destination =
                plan.manifest.publish.to == .fanvue
                ? "fanvue:" + PublishFolderStage.fileName(item) : outcome.outbox + "/" + PublishFolderStage.fileName(item)
            return PlannedFile(
                item: item, file: destination, state: state,
                caption: Disclosure.apply(item.publish.caption, disclosure: plan.manifest.publish.disclosure))
        }
    }

    static func price(_ cents: Int?) -> String {
        guard let cents else { return "-" }
        return String(format: "%d.%02d", cents / 100, cents % 100)
    }

    static func words(_ counts: [(String, Int)], dryRun: Bool) -> String {
        counts.map { word, count in
            let shown = dryRun && word == "planned" ? "would run" : word
            return "\(count) \(shown)"
        }.joined(separator: ", ")
    }

    /// The human summary.
    static func text(_ outcome: DropOutcome) -> String {
        let report = outcome.report
        let plan = report.plan
        var lines: [String] = []
        let drop = plan.drop
        if report.dryRun { lines.append("Dry run: nothing was changed (no file, no database row, no network call).") }
        lines.append(
            "drop \(drop): \(plan.items.count) item\(plan.items.count == 1 ? "" : "s") from \(outcome.sourceFolder)")
        lines.append("library \(outcome.layout.root) · database \(outcome.database)")
        let duplicates = plan.items.reduce(0) { $0 + $1.duplicates.count }
        if duplicates > 0 { lines.append("\(duplicates) duplicate file\(duplicates == 1 ? "" : "s") (same bytes) counted once") }
        for (path, reason) in plan.skipped { lines.append("skipped \(path): \(reason)") }
        lines.append("")
        let counts = report.counts
        let nameWidth = counts.map(\.stage.rawValue.count).max() ?? 7
        for (stage, row) in counts {
            let padded = stage.rawValue.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
            var text = padded + words(row, dryRun: report.dryRun)
            if row.count == 1, row[0].0 == "cached" { text += " (up to date)" }
            lines.append("  " + text)
        }
        let ranAnything = report.states.values.contains { if case .ran = $0 { return true } else { return false } }
        if !report.dryRun, !ranAnything, report.failureCount == 0 {
            lines.append("")
            lines.append("Nothing to redo: every finished step is up to date.")
        }
        if !report.failures.isEmpty || !report.unreadable.isEmpty {
            lines.append("")
            lines.append("\(report.failureCount) failed:")
            for (node, message) in report.failures {
                lines.append("  \(plan.subject(node)): \(node.stage.rawValue): \(message)")
            }
            for (path, reason) in report.unreadable { lines.append("  \(path): \(reason)") }
            lines.append("The next run retries only these.")
        }
        let waiting = report.waitingItems
        if !waiting.isEmpty {
            lines.append("")
            let folder = outcome.layout.absolute(outcome.layout.folder(.review, drop: drop))
            lines.append("\(waiting.count) item\(waiting.count == 1 ? "" : "s") wait\(waiting.count == 1 ? "s" : "") for review in \(folder)/")
            lines.append(
                "Move each file to \(outcome.layout.absolute(ReviewFolder.approved.rawValue))/ or "
                    + "\(outcome.layout.absolute(ReviewFolder.rejected.rawValue))/, then run again.")
        }
        let files = report.dryRun ? plannedFiles(outcome) : []
        if !files.isEmpty {
            lines.append("")
            lines.append(plan.manifest.publish.to == .fanvue ? "Planned uploads:" : "Planned outbox files (folder target):")
            for file in files where file.state != "published" {
                let tags = file.item.publish.tags.isEmpty ? "-" : file.item.publish.tags.joined(separator: ",")
                lines.append(
                    "  \(file.file)  vault=\(file.item.publish.vault ?? "-")  price=\(price(file.item.publish.priceCents))"
                        + "  tags=\(tags)  caption=\"\(file.caption)\"  [\(file.state)]")
            }
        }
        if plan.manifest.publish.to == .fanvue {
            if report.dryRun {
                lines.append("")
                lines.append(contentsOf: fanvuePlan(outcome, files: files))
            } else if let requests = outcome.fanvueRequests {
                lines.append("")
                lines.append("Fanvue API calls this run: \(requests)")
            }
        }
        if plan.manifest.publish.to == .folder {
            let count = (try? FileManager.default.contentsOfDirectory(atPath: outcome.outbox))?
                .filter { !$0.hasSuffix(".json") && !$0.hasPrefix(".") }.count ?? 0
            lines.append("")
            lines.append("Outbox: \(outcome.outbox) (\(count) image\(count == 1 ? "" : "s"))")
        }
        return lines.joined(separator: "\n")
    }

    /// A dry run's Fanvue work, in order, with the API requests it will cost.
    static func fanvuePlan(_ outcome: DropOutcome, files: [PlannedFile]) -> [String] {
        let report = outcome.report
        let publish = report.plan.manifest.publish
        var lines = ["Planned Fanvue work (nothing is sent in a dry run):"]
        var requests = 0
        var storage = 0
        let pending = files.filter { $0.state == "now" || $0.state == "after review" }
        if case .planned? = report.states[NodeID(.vault, item: nil)] {
            let folders = Set(report.plan.items.compactMap(\.publish.vault)).sorted()
            lines.append("  vault: make sure folder\(folders.count == 1 ? "" : "s") \(folders.joined(separator: ", ")) exist\(folders.count == 1 ? "s" : "")")
            requests += folders.count
        }
        if !pending.isEmpty {
            requests += 1  // the account
            // Each upload: create, one part URL per 8 MiB part, complete, and usually one processing poll.
            requests += pending.count * 4
            storage += pending.count
            lines.append("  upload \(pending.count) image\(pending.count == 1 ? "" : "s"), then add them to the vault (\((pending.count + 99) / 100) call\(pending.count > 100 ? "s" : "") per folder)")
            requests += (pending.count + 99) / 100
        }
        if let post = publish.post, !pending.isEmpty {
            let cost = post.priceCents.map { " at \(Self.price($0))" } ?? ""
            lines.append("  post: one feed post (\(post.audience))\(cost) with the approved images\(post.at.map { ", scheduled \($0)" } ?? "")")
            requests += 1
        }
        if let message = publish.message, !pending.isEmpty {
            let cost = (message.priceCents ?? publish.priceCents).map { " at \(Self.price($0))" } ?? ""
            lines.append("  message: pay-per-view\(cost) to \(message.to.count) fan\(message.to.count == 1 ? "" : "s"), skipping what each already has")
            requests += message.to.count
        }
        lines.append("  estimated Fanvue API requests: \(requests) (plus \(storage) part upload\(storage == 1 ? "" : "s") to storage)")
        return lines
    }

    /// The same facts as JSON, for scripts.
    static func json(_ outcome: DropOutcome) -> String {
        let report = outcome.report
        let plan = report.plan
        var stages: [JSONValue.Member] = []
        for (stage, row) in report.counts {
            stages.append(.init(stage.rawValue, .object(row.map { JSONValue.Member($0.0, .int($0.1)) })))
        }
        let failures = report.failures.map { node, message in
            JSONValue.object([
                "item": plan.subject(node).isEmpty ? .null : .string(plan.subject(node)),
                "stage": .string(node.stage.rawValue),
                "error": .string(message),
            ])
        } + report.unreadable.map { path, reason in
            JSONValue.object(["item": .string(path), "stage": .string("discover"), "error": .string(reason)])
        }
        let waiting = report.waitingItems.map { JSONValue.string($0.source.relativePath) }
        let planned = plannedFiles(outcome).map { file in
            JSONValue.object([
                "file": .string(file.file),
                "item": .string(file.item.id.hex),
                "source": .string(file.item.source.relativePath),
                "vault": file.item.publish.vault.map(JSONValue.string) ?? .null,
                "price": file.item.publish.priceCents.map { .double(Double($0) / 100) } ?? .null,
                "tags": .array(file.item.publish.tags.map(JSONValue.string)),
                "caption": .string(file.caption),
                "state": .string(file.state),
            ])
        }
        let document = JSONValue.object([
            "drop": .string(plan.drop),
            "dry_run": .bool(report.dryRun),
            "items": .int(plan.items.count),
            "library": .string(outcome.layout.root),
            "database": .string(outcome.database.description),
            "outbox": .string(outcome.outbox),
            "stages": .object(stages),
            "waiting_for_review": .array(waiting),
            "failures": .array(failures),
            "outbox_files": .array(planned),
            "exit_code": .int(Int(report.exitCode)),
        ])
        return document.pretty()
    }
}
