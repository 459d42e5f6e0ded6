/// Builds a drop's graph from its manifest, the files discovery found and the pipeline's shape. Pure.
package enum Planner {
    /// Plans a drop.
    /// - Parameters:
    ///   - manifest: the decoded manifest.
    ///   - files: the source files in discovery order (sorted by relative path).
    ///   - pipeline: the stages and how they connect (`ElenaPipeline.shape` in ElenaStages).
    /// - Throws: `Graph.CycleError` only if the stage wiring itself is wrong (a bug).
    package static func plan(_ manifest: Manifest, files: [SourceFile], pipeline: PipelineShape) throws -> DropPlan {
        // Made to size once: a drop of 100,000 files has nearly as many items, and a grown array keeps up to
        // half again its size unused.
        var items: [PlannedItem] = []
        items.reserveCapacity(files.count)
        var indexByDigest: [Digest: Int] = [:]
        indexByDigest.reserveCapacity(files.count)
        var skipped: [(path: String, reason: String)] = []
        var used = Set<Int>()
        var sharedSettings: [[Int]: PlannedItem.Settings] = [:]
        /// The drop's crop and publish settings with the `items:` rules at `matched` applied, in order.
        func settings(applying matched: [Int]) -> PlannedItem.Settings {
            var crop = manifest.crop
            var publish = ItemPublish(
                vault: manifest.publish.vault, priceCents: manifest.publish.priceCents, tags: manifest.publish.tags,
                caption: manifest.publish.caption, category: manifest.publish.category)
            for index in matched {
                let override = manifest.items[index]
                crop = override.crop.applied(to: crop)
                if let vault = override.vault { publish.vault = vault }
                if let price = override.priceCents { publish.priceCents = price }
                if let tags = override.tags { publish.tags = tags }
                if let caption = override.caption { publish.caption = caption }
                if let category = override.category { publish.category = category }
            }
            return PlannedItem.Settings(crop: crop, publish: publish)
        }

        for file in files {
            if let existing = indexByDigest[file.digest] {
                items[existing].duplicates.append(file.relativePath)
                continue
            }
            let matched = manifest.items.indices.filter { matches(manifest.items[$0].match, file) }
            used.formUnion(matched)
            if let skipIndex = matched.last(where: { manifest.items[$0].skip }) {
                skipped.append((file.relativePath, "skip: true in items[\(skipIndex)] (\(manifest.items[skipIndex].match))"))
                continue
            }
            // The settings follow from the rules that matched: items the same rules matched share them.
            let settings = sharedSettings[matched] ?? settings(applying: matched)
            sharedSettings[matched] = settings
            indexByDigest[file.digest] = items.count
            items.append(
                PlannedItem(id: file.digest, source: file, duplicates: [], stem: "", settings: settings, overrides: matched))
        }
        assignStems(&items)
        // A rule that matches no file is almost always a typo in its pattern (`ComfyUI_0004*` for ComfyUI_00004_.png).
        let unmatchedRules = manifest.items.indices.filter { !used.contains($0) }
        // The names to suggest from, made only when some rule matched nothing.
        let names = unmatchedRules.isEmpty ? [] : Array(Set(files.map(\.name))).sorted()
        let unmatched = unmatchedRules.map { index in
            let pattern = manifest.items[index].match.pattern
            let nearest = names.map { ($0, Suggestion.editDistance(pattern.lowercased(), $0.lowercased())) }
                .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(3).map(\.0)
            return UnmatchedRule(index: index, pattern: pattern, nearest: nearest)
        }

        let stages = pipeline.stages(for: manifest).filter { $0.level != .job }
        // Every edge between nodes is an edge between their stages: the stages without a cycle, the nodes have none
        // (checked on a handful of stages, not on 600,000 nodes).
        var wiring = Graph<StageName>()
        for stage in stages { wiring.add(stage.name, dependsOn: stage.reads + stage.after) }
        _ = try wiring.topologicalOrder()
        var plan = DropPlan(
            drop: manifest.drop, manifest: manifest, items: items, skipped: skipped, stages: stages.map(\.name),
            graph: PlanGraph(stages, unitCount: items.count))
        plan.unmatchedRules = unmatched
        return plan
    }

    /// Plans what comes before discovery: one node per job for each job stage the manifest includes (generation's
    /// (prompt, seed)s). The jobs' own parameters make their cache keys; they depend on nothing.
    package static func sourcePlan(_ manifest: Manifest, jobs: [PlannedJob], pipeline: PipelineShape) -> DropPlan {
        let stages = pipeline.stages(for: manifest).filter { $0.level == .job }
        var plan = DropPlan(
            drop: manifest.drop, manifest: manifest, items: [], skipped: [], stages: stages.map(\.name),
            graph: PlanGraph(stages, unitCount: jobs.count, unitsAreJobs: true))
        plan.jobs = jobs
        return plan
    }

    /// A pattern with a `/` matches the relative path; otherwise the file name.
    static func matches(_ glob: Glob, _ file: SourceFile) -> Bool {
        glob.spansFolders ? glob.matches(file.relativePath) : glob.matches(file.name)
    }

    /// Gives every item a file-name stem unique in the drop: the source name without extension, plus the
    /// first 8 digest characters when two items would share it.
    static func assignStems(_ items: inout [PlannedItem]) {
        var counts: [String: Int] = [:]
        counts.reserveCapacity(items.count)
        let bases = items.indices.map { Sanitize.stem(PathText.splitExtension(items[$0].source.name).stem) }
        let folded = bases.map { $0.lowercased() }
        for key in folded { counts[key, default: 0] += 1 }
        for index in items.indices {
            let base = bases[index]
            items[index].stem = counts[folded[index], default: 0] > 1 ? "\(base)-\(items[index].id.prefix(8))" : base
        }
    }
}

/// File-name hygiene for names the tool creates.
package enum Sanitize {
    /// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `_`; never empty, at most 100 characters.
    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    package static func stem(_ text: String) -> String {
        // Most names are plain ASCII: mapped byte by byte, not character by character (a drop of 100,000 names
        // each of its files). "\r\n" is one character, so a name holding a carriage return goes the general way.
        if text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) {
            var out = text.utf8.prefix(100).map { isAllowed($0) ? $0 : UInt8(ascii: "_") }
            out.removeSubrange(..<(out.firstIndex { $0 != UInt8(ascii: ".") } ?? out.endIndex))
            return out.isEmpty ? "image" : String(decoding: out, as: UTF8.self)
        }
        var out = String(text.map { allowed.contains($0) ? $0 : "_" }.prefix(100))
        while out.hasPrefix(".") { out.removeFirst() }
        return out.isEmpty ? "image" : out
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}

/// An `items:` rule whose pattern matched no source file, with the file names nearest to it.
package struct UnmatchedRule: Sendable, Hashable {
    package var index: Int
    package var pattern: String
    package var nearest: [String]

    /// The warning line: where the rule is (from the manifest's recorded locations), and what it may have meant.
    package func warning(in manifest: Manifest) -> String {
        let place = manifest.locations["items[\(index)].match"].map { "\($0): " } ?? ""
        return place + "warning: items[\(index)].match '\(pattern)' matches no file"
            + (nearest.isEmpty ? "" : "; nearest: " + nearest.joined(separator: ", "))
    }
}
