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
            case .blocked(let reason)?:
                // Only what a person can still approve is planned; an item whose crop failed is not.
                guard case .awaiting = reason else { return nil }
                state = "after review"
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

    /// `2 duplicate files (same bytes) counted once: extra/a_copy.png (= a.png), …`: the first three named.
    static func duplicatesLine(_ plan: DropPlan) -> String? {
        let pairs = plan.items.flatMap { item in item.duplicates.map { ($0, item.source.relativePath) } }
        guard !pairs.isEmpty else { return nil }
        let shown = pairs.prefix(3).map { "\($0.0) (= \($0.1))" }.joined(separator: ", ")
        let more = pairs.count > 3 ? " and \(pairs.count - 3) more" : ""
        return "\(pairs.count) duplicate file\(pairs.count == 1 ? "" : "s") (same bytes) counted once: \(shown)\(more)"
    }

    /// The whole outcome on one line, for `run --quiet`:
    /// `drop demo: 17 items, 51 steps ran, 17 waiting for review, 1 failed (elena-run status drop.yaml)`.
    static func line(_ outcome: DropOutcome, manifest: String) -> String {
        "drop \(outcome.report.plan.drop): " + tally(outcome, manifest: manifest)
    }

    /// What a run did, in a few words: `17 items, 51 steps ran, 17 waiting for review` (each run of `watch`).
    static func tally(_ outcome: DropOutcome, manifest: String, extra: [String] = []) -> String {
        let report = outcome.report
        let items = report.plan.items.count
        let ran = report.ranCount
        var parts = ["\(items) item\(items == 1 ? "" : "s")", "\(ran) step\(ran == 1 ? "" : "s") ran"]
        if let generation = report.generation, generation.generated > 0 { parts.append("\(generation.generated) generated") }
        if !report.waitingItems.isEmpty { parts.append("\(report.waitingItems.count) waiting for review") }
        if report.failureCount > 0 { parts.append("\(report.failureCount) failed (elena-run status \(manifest))") }
        if let reason = report.stopped { parts.append("stopped early: \(reason)") }
        return (parts + extra).joined(separator: ", ")
    }

    /// The human summary.
    static func text(_ outcome: DropOutcome) -> String {
        let report = outcome.report
        let plan = report.plan
        var lines: [String] = []
        let drop = plan.drop
        let facts = DropFacts(report)
        if outcome.isStatus {
            lines.append("Status (from the ledger and the folders; nothing was changed).")
        } else if report.dryRun {
            lines.append(
                outcome.online == nil
                    ? "Dry run: nothing was changed (no file, no database row, no network call)."
                    : "Dry run: nothing was changed (no file, no database row; only read-only requests to Fanvue).")
        }
        lines.append(
            "drop \(drop): \(plan.items.count) item\(plan.items.count == 1 ? "" : "s") from \(outcome.sourceFolder)")
        lines.append("library \(outcome.layout.root) · database \(outcome.database)")
        if let line = duplicatesLine(plan) { lines.append(line) }
        for (path, reason) in plan.skipped { lines.append("skipped \(path): \(reason)") }
        for rule in plan.unmatchedRules { lines.append(rule.warning(in: plan.manifest)) }
        lines.append(contentsOf: otherDropLines(report))
        lines.append("")
        let rows = stageRows(report)
        let nameWidth = max(rows.map(\.stage.rawValue.count).max() ?? 7, report.generation == nil ? 0 : 8)
        if let generation = report.generation {
            lines.append("  generate".padding(toLength: nameWidth + 4, withPad: " ", startingAt: 0) + generationLine(generation, dryRun: report.dryRun))
            for failure in generation.previousFailures {
                lines.append("    \(failure.label) (\(GenerationSummary.excerpt(failure.prompt))) failed last time: \(failure.message)")
            }
        }
        for (stage, row) in rows {
            let padded = stage.rawValue.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
            var text: String
            if stage == .review {
                text = padded + facts.reviewWords(blocked: row.first { $0.0 == "blocked" }?.1 ?? 0)
            } else {
                text = padded + words(row, dryRun: report.dryRun)
                if row.count == 1, row[0].0 == "cached" { text += " (up to date)" }
            }
            lines.append("  " + text)
        }
        if let flagLine = facts.flagLine {
            lines.append("")
            lines.append(flagLine)
        }
        if !facts.byHand.isEmpty {
            lines.append("\(facts.byHand.count) recropped by hand: \(DropFacts.names(facts.byHand))")
        }
        let groups = SimilarStage.waitingGroups(report)
        let (similar, oversized) = (groups.shown, groups.oversized)
        if !similar.isEmpty || !report.warnings.isEmpty || !oversized.isEmpty {
            lines.append("")
            for warning in report.warnings { lines.append(warning) }
            for size in oversized {
                lines.append(
                    "\(size) pictures look alike to their fingerprints, too many to be copies of one another (flat or tiny "
                        + "images?): not shown as a group")
            }
            for group in similar {
                lines.append("\(group.count) near-identical, one picture: \(group.joined(separator: ", ")); keep the best, reject the rest")
            }
        }
        if !report.notes.isEmpty {
            lines.append("")
            lines.append("Review changes recorded by this run:")
            for note in report.notes { lines.append("  " + note) }
        }
        if !report.ignored.isEmpty {
            lines.append("")
            for note in report.ignored { lines.append(note) }
        }
        if !report.dryRun, report.ranCount == 0, report.failureCount == 0, report.notes.isEmpty {
            lines.append("")
            lines.append("Nothing to redo: every finished step is up to date.")
        }
        if !report.failures.isEmpty || !report.unreadable.isEmpty || report.generation?.failureCount ?? 0 > 0 {
            lines.append("")
            lines.append(
                report.dryRun && !report.failures.isEmpty
                    ? "\(report.failureCount) failed (steps as of the last run; the next run retries them):"
                    : "\(report.failureCount) failed:")
            if let generation = report.generation, let error = generation.error {
                let count = generation.failureCount
                lines.append("  generate, \(count) prompt\(count == 1 ? "" : "s") not made: \(error)")
            }
            // The same refusal for many prompts is said once, with the prompts it hit.
            var byMessage: [(message: String, failures: [GenerationSummary.Failure])] = []
            for failure in report.generation?.failures ?? [] {
                if let index = byMessage.firstIndex(where: { $0.message == failure.message }) {
                    byMessage[index].failures.append(failure)
                } else {
                    byMessage.append((failure.message, [failure]))
                }
            }
            for group in byMessage {
                if group.failures.count == 1, let failure = group.failures.first {
                    lines.append("  generate \(failure.label) (\(GenerationSummary.excerpt(failure.prompt))): \(failure.message)")
                } else {
                    let shown = group.failures.prefix(3).map(\.label).joined(separator: "; ")
                    let more = group.failures.count > 3 ? " and \(group.failures.count - 3) more" : ""
                    lines.append("  generate, \(group.failures.count) prompts (\(shown)\(more)): \(group.message)")
                }
            }
            // The same error for many items (no login, a server down) is said once, with the items it hit.
            var groups: [(stage: StageName, message: String, subjects: [String])] = []
            var groupIndex: [String: Int] = [:]
            for (node, failure) in report.failures {
                let message = report.stoppedBy.contains(node) ? "the run stopped here (below)" : failure
                let key = node.stage.rawValue + "\n" + message
                if let index = groupIndex[key] {
                    groups[index].subjects.append(plan.subject(node))
                } else {
                    groupIndex[key] = groups.count
                    groups.append((node.stage, message, [plan.subject(node)]))
                }
            }
            for group in groups {
                if group.subjects.count < 3 {
                    for subject in group.subjects { lines.append("  \(subject): \(group.stage.rawValue): \(group.message)") }
                } else {
                    let shown = group.subjects.prefix(3).joined(separator: ", ")
                    let more = group.subjects.count > 3 ? " and \(group.subjects.count - 3) more" : ""
                    lines.append(
                        "  \(group.stage.rawValue), \(group.subjects.count) items (\(shown)\(more)): \(group.message)")
                }
            }
            for (path, reason) in report.unreadable { lines.append("  \(path): \(reason)") }
            if !report.dryRun && report.stopped == nil { lines.append("The next run retries only these.") }
        }
        if let reason = report.stopped {
            let notStarted = report.states.values.filter {
                if case .blocked(.notStarted) = $0 { return true } else { return false }
            }.count
            lines.append("")
            lines.append("Stopped early: \(reason).")
            lines.append(
                "\(notStarted) step\(notStarted == 1 ? " was" : "s were") not started; what finished is kept, "
                    + "and the next run goes on from there.")
        }
        if !facts.waiting.isEmpty || !facts.toReview.isEmpty {
            lines.append("")
            let folder = outcome.layout.absolute(outcome.layout.folder(.review, drop: drop))
            let count = facts.waiting.count
            let later = facts.toReview.isEmpty ? "" : "; \(facts.toReview.count) more once a run crops them"
            lines.append(
                count == 0
                    ? "\(facts.toReview.count) item\(facts.toReview.count == 1 ? "" : "s") will wait for review in \(folder)/ once a run crops them"
                    : "\(count) item\(count == 1 ? "" : "s") wait\(count == 1 ? "s" : "") for review in \(folder)/\(later)")
            if count > 0 {
                lines.append(
                    "Move each file to \(outcome.layout.absolute(ReviewFolder.approved.rawValue))/ or "
                        + "\(outcome.layout.absolute(ReviewFolder.rejected.rawValue))/, then run again.")
            }
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

    /// The Fanvue work a dry run plans, with the API requests it will cost.
    struct FanvueWork {
        /// Vault folders the pending uploads go to.
        var folders: [String]
        /// Whether the vault step still has to run (it makes sure the folders exist).
        var ensuresFolders: Bool
        /// Images to upload (now, or after review).
        var uploads: Int
        /// Vault attach calls (at most 100 media each, per folder).
        var attachCalls: Int
        var post: PostSpec?
        var postText: String
        var message: MessageSpec?
        var messageText: String
        var messagePriceCents: Int?
        /// Estimated API requests (storage PUTs excluded).
        var requests: Int
        /// Part uploads straight to storage.
        var storagePuts: Int
    }

    static func fanvueWork(_ outcome: DropOutcome, files: [PlannedFile]) -> FanvueWork {
        let report = outcome.report
        let publish = report.plan.manifest.publish
        let pending = files.filter { $0.state == "now" || $0.state == "after review" }
        let folders = Set(pending.compactMap(\.item.publish.vault)).sorted()
        var ensures = false
        switch report.states[NodeID(.vault, item: nil)] {
        case .cached?, .ran?: ensures = false
        default: ensures = !folders.isEmpty
        }
        var byFolder: [String: Int] = [:]
        for file in pending { byFolder[file.item.publish.vault ?? "", default: 0] += 1 }
        let attachCalls = byFolder.values.reduce(0) { $0 + ($1 + 99) / 100 }
        var requests = ensures ? folders.count : 0
        if !pending.isEmpty {
            // The account once; each upload: create, one part URL per 8 MiB part, complete, one processing poll.
            requests += 1 + pending.count * 4 + attachCalls
        }
        let post = pending.isEmpty ? nil : publish.post
        let message = pending.isEmpty ? nil : publish.message
        if post != nil { requests += 1 }
        if let message { requests += message.to.count }
        return FanvueWork(
            folders: folders, ensuresFolders: ensures, uploads: pending.count, attachCalls: attachCalls, post: post,
            postText: Disclosure.apply(publish.post?.text ?? publish.caption, disclosure: publish.disclosure),
            message: message,
            messageText: Disclosure.apply(publish.message?.text ?? publish.caption, disclosure: publish.disclosure),
            messagePriceCents: publish.message?.priceCents ?? publish.priceCents, requests: requests,
            storagePuts: pending.count)
    }

    /// A dry run's Fanvue work, in order, with the API requests it will cost.
    static func fanvuePlan(_ outcome: DropOutcome, files: [PlannedFile]) -> [String] {
        let work = fanvueWork(outcome, files: files)
        let checked = outcome.online != nil
        var lines = ["Planned Fanvue work (\(checked ? "only read-only checks were sent" : "nothing is sent in a dry run")):"]
        if work.ensuresFolders {
            for folder in work.folders {
                let found = outcome.online?.folders[folder].map { $0 ? " (exists on Fanvue)" : " (missing on Fanvue: will be created)" }
                lines.append("  vault: make sure folder \(folder) exists\(found ?? "")")
            }
        }
        if work.uploads > 0 {
            lines.append(
                "  upload \(work.uploads) image\(work.uploads == 1 ? "" : "s"), then add them to the vault "
                    + "(\(work.attachCalls) call\(work.attachCalls == 1 ? "" : "s"))")
        } else {
            lines.append("  nothing to upload: every approved image is on Fanvue already")
        }
        if let post = work.post {
            let cost = post.priceCents.map { " at \(Self.price($0))" } ?? ""
            lines.append(
                "  post: one feed post (\(post.audience))\(cost) with the approved images"
                    + "\(post.at.map { ", scheduled \($0)" } ?? ""), text \"\(work.postText)\"")
        }
        if let message = work.message {
            let cost = work.messagePriceCents.map { " at \(Self.price($0))" } ?? ""
            lines.append(
                "  message: pay-per-view\(cost) to \(message.to.count) fan\(message.to.count == 1 ? "" : "s"), "
                    + "text \"\(work.messageText)\", skipping what each fan already has")
        }
        lines.append(
            "  estimated Fanvue API requests: \(work.requests) (plus \(work.storagePuts) part upload\(work.storagePuts == 1 ? "" : "s") to storage)")
        if let online = outcome.online {
            lines.append("  online check: logged in as account \(online.account)")
        }
        return lines
    }

    static func fanvueJSON(_ outcome: DropOutcome, files: [PlannedFile]) -> JSONValue {
        let work = fanvueWork(outcome, files: files)
        func money(_ cents: Int?) -> JSONValue { cents.map { JSONValue.double(Double($0) / 100) } ?? .null }
        var post = JSONValue.null
        if let spec = work.post {
            post = .object([
                "audience": .string(spec.audience), "price": money(spec.priceCents),
                "at": spec.at.map(JSONValue.string) ?? .null, "text": .string(work.postText),
            ])
        }
        var message = JSONValue.null
        if let spec = work.message {
            message = .object([
                "to": .array(spec.to.map(JSONValue.string)), "price": money(work.messagePriceCents),
                "text": .string(work.messageText),
            ])
        }
        var online = JSONValue.null
        if let check = outcome.online {
            let folders = check.folders.sorted { $0.key < $1.key }.map { JSONValue.Member($0.key, .bool($0.value)) }
            online = .object(["account": .string(check.account), "folders": .object(folders)])
        }
        let members: [JSONValue.Member] = [
            .init("vault_folders", .array(work.folders.map(JSONValue.string))),
            .init("ensures_folders", .bool(work.ensuresFolders)),
            .init("uploads", .int(work.uploads)),
            .init("attach_calls", .int(work.attachCalls)),
            .init("post", post),
            .init("message", message),
            .init("estimated_api_requests", .int(work.requests)),
            .init("storage_puts", .int(work.storagePuts)),
            .init("online", online),
        ]
        return .object(members)
    }

    /// `generate   2 generated (4 images), 1 cached, 1 failed`.
    static func generationLine(_ generation: GenerationSummary, dryRun: Bool) -> String {
        var parts: [String] = []
        if dryRun {
            if generation.planned > 0 { parts.append("\(generation.planned) to queue on ComfyUI") }
        } else if generation.generated > 0 {
            parts.append("\(generation.generated) generated (\(generation.images.count) image\(generation.images.count == 1 ? "" : "s"))")
        }
        if generation.cached > 0 { parts.append("\(generation.cached) cached") }
        if generation.error != nil {
            parts.append("not run: see below")
        } else if !generation.failures.isEmpty {
            parts.append("\(generation.failures.count) failed")
        }
        let text = parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
        return text + (generation.cached == generation.jobs && generation.jobs > 0 ? " (up to date)" : "")
    }

    static func generationJSON(_ generation: GenerationSummary?) -> JSONValue {
        guard let generation else { return .null }
        return .object([
            "prompts": .int(generation.jobs),
            "cached": .int(generation.cached),
            "generated": .int(generation.generated),
            "to_queue": .int(generation.planned),
            "images": .array(generation.images.map(JSONValue.string)),
            "failures": .array(
                generation.failures.map {
                    .object(["prompt": .string($0.prompt), "label": .string($0.label), "error": .string($0.message)])
                }),
            "error": generation.error.map(JSONValue.string) ?? .null,
        ])
    }

    /// "1 image is already in drop-03, approved there: a.png (…)", one line per drop and status.
    static func otherDropLines(_ report: RunReport) -> [String] {
        var groups: [(drop: String, status: String, files: [String])] = []
        for entry in report.inOtherDrops {
            if let index = groups.firstIndex(where: { $0.drop == entry.drop && $0.status == entry.status }) {
                groups[index].files.append(entry.path)
            } else {
                groups.append((entry.drop, entry.status, [entry.path]))
            }
        }
        return groups.map { group in
            let count = group.files.count
            let standing: String =
                switch ItemStatus(rawValue: group.status) {
                case .inReview?, .ingested?, .cropped?: "waiting for review there"
                case .approved?: "approved there"
                case .published?: "published there"
                case .rejected?: "rejected there"
                case .failed?: "failed there"
                case nil: group.status
                }
            return "\(count) image\(count == 1 ? " is" : "s are") already in drop \(group.drop), \(standing): "
                + "\(DropFacts.names(group.files)) (a picture is reviewed and published with the first drop that took it, "
                + "not again here)"
        }
    }

    /// Node counts per stage in words, with the detect nodes of items whose strategy needs no faces counted as
    /// "not needed" (they are settled without a detector, which a first run would otherwise show as "cached").
    static func stageRows(_ report: RunReport) -> [(stage: StageName, counts: [(String, Int)])] {
        let items = report.plan.items
        return report.counts { node, state in
            guard node.stage == .detect, let index = node.item, !items[index].crop.strategy.needsFaces else { return state.word }
            switch state {
            case .cached, .planned: return "not needed"
            default: return state.word
            }
        }
    }

    /// The same facts as JSON, for scripts.
    static func json(_ outcome: DropOutcome) -> String {
        let report = outcome.report
        let plan = report.plan
        let facts = DropFacts(report)
        var stages: [JSONValue.Member] = []
        for (stage, row) in stageRows(report) {
            stages.append(.init(stage.rawValue, .object(row.map { JSONValue.Member($0.0, .int($0.1)) })))
        }
        let failures = report.failures.map { node, message in
            JSONValue.object([
                "item": node.item == nil ? .null : .string(plan.subject(node)),
                "stage": .string(node.stage.rawValue),
                "error": .string(message),
                "when": .string(report.dryRun ? "last run" : "this run"),
            ])
        } + report.unreadable.map { path, reason in
            JSONValue.object([
                "item": .string(path), "stage": .string("discover"), "error": .string(reason), "when": .string("this run"),
            ])
        }
        let waiting: [JSONValue] = report.waitingItems.map { JSONValue.string($0.source.relativePath) }
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
            "unmatched_rules": .array(
                plan.unmatchedRules.map { rule in
                    .object([
                        "rule": .string("items[\(rule.index)]"), "match": .string(rule.pattern),
                        "nearest": .array(rule.nearest.map(JSONValue.string)),
                    ])
                }),
            "generate": generationJSON(report.generation),
            "waiting_for_review": .array(waiting),
            "review": facts.json,
            "flagged": facts.flagsJSON,
            "in_other_drops": .array(
                report.inOtherDrops.map {
                    .object(["file": .string($0.path), "drop": .string($0.drop), "status": .string($0.status)])
                }),
            "near_identical": .array(SimilarStage.waitingGroups(report).shown.map { .array($0.map(JSONValue.string)) }),
            "warnings": .array(report.warnings.map(JSONValue.string)),
            "notes": .array(report.notes.map(JSONValue.string)),
            "ignored": .array(report.ignored.map(JSONValue.string)),
            "failures": .array(failures),
            "stopped": report.stopped.map(JSONValue.string) ?? .null,
            "outbox_files": .array(planned),
            "fanvue": plan.manifest.publish.to == .fanvue && report.dryRun
                ? fanvueJSON(outcome, files: plannedFiles(outcome)) : .null,
            "exit_code": .int(Int(report.exitCode)),
        ])
        return document.pretty()
    }
}
