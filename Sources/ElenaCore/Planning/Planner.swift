/// Builds a drop's graph from its manifest and the files discovery found. Pure.
public enum Planner {
    /// The per-item pipeline of the folder target, in order.
    public static let itemStages: [StageName] = [.ingest, .detect, .crop, .review, .publish]

    /// The per-item pipeline for a publish target.
    public static func itemStages(for target: PublishTarget) -> [StageName] {
        target == .folder ? itemStages : [.ingest, .detect, .crop, .review, .upload]
    }

    /// Which earlier stages of the same item each stage reads (the graph's edges).
    public static let itemInputs: [StageName: [StageName]] = [
        .ingest: [],
        .detect: [.ingest],
        .crop: [.ingest, .detect],
        .review: [.crop],
        .publish: [.review],
        .upload: [.review],
    ]

    /// Plans a drop.
    /// - Parameters:
    ///   - manifest: the decoded manifest.
    ///   - files: the source files in discovery order (sorted by relative path).
    /// - Throws: `Graph.CycleError` only if the stage wiring itself is wrong (a bug).
    public static func plan(_ manifest: Manifest, files: [SourceFile]) throws -> DropPlan {
        var items: [PlannedItem] = []
        var indexByDigest: [Digest: Int] = [:]
        var skipped: [(path: String, reason: String)] = []

        for file in files {
            if let existing = indexByDigest[file.digest] {
                items[existing].duplicates.append(file.relativePath)
                continue
            }
            let matched = manifest.items.indices.filter { matches(manifest.items[$0].match, file) }
            if let skipIndex = matched.last(where: { manifest.items[$0].skip }) {
                skipped.append((file.relativePath, "skip: true in items[\(skipIndex)] (\(manifest.items[skipIndex].match))"))
                continue
            }
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
            indexByDigest[file.digest] = items.count
            items.append(
                PlannedItem(
                    id: file.digest, source: file, duplicates: [], stem: "", crop: crop, publish: publish,
                    overrides: matched))
        }
        assignStems(&items)

        var graph = Graph<NodeID>()
        let stages = itemStages(for: manifest.publish.to)
        graph.reserveCapacity(items.count * stages.count + 4)
        let publishing = stages.last ?? .publish
        let feeding: [NodeID] = manifest.publish.to == .folder ? [NodeID(.outbox, item: nil)] : [NodeID(.vault, item: nil)]
        for node in feeding { graph.add(node) }
        for index in items.indices {
            for stage in stages {
                var prerequisites = (itemInputs[stage] ?? []).map { NodeID($0, item: index) }
                if stage == .publish { prerequisites += feeding }
                graph.add(NodeID(stage, item: index), dependsOn: prerequisites)
            }
        }
        if manifest.publish.to == .fanvue {
            // Collectors: they run on whatever the items produced (see Stage.inputPolicy). The vault folders are
            // made only once a person approved something: nothing reaches Fanvue before the review gate.
            graph.add(NodeID(.vault, item: nil), dependsOn: items.indices.map { NodeID(.review, item: $0) })
            let uploads = items.indices.map { NodeID(publishing, item: $0) }
            graph.add(NodeID(.attach, item: nil), dependsOn: feeding + uploads)
            if manifest.publish.post != nil { graph.add(NodeID(.post, item: nil), dependsOn: [NodeID(.attach, item: nil)] + uploads) }
            if manifest.publish.message != nil {
                graph.add(NodeID(.message, item: nil), dependsOn: [NodeID(.attach, item: nil)] + uploads)
            }
        }
        let order = try graph.topologicalOrder()
        return DropPlan(
            drop: manifest.drop, manifest: manifest, items: items, skipped: skipped, graph: graph, order: order)
    }

    /// A pattern with a `/` matches the relative path; otherwise the file name.
    static func matches(_ glob: Glob, _ file: SourceFile) -> Bool {
        glob.pattern.contains("/") ? glob.matches(file.relativePath) : glob.matches(file.name)
    }

    /// Gives every item a file-name stem unique in the drop: the source name without extension, plus the
    /// first 8 digest characters when two items would share it.
    static func assignStems(_ items: inout [PlannedItem]) {
        var counts: [String: Int] = [:]
        let bases = items.map { Sanitize.stem(PathText.splitExtension($0.source.name).stem) }
        for base in bases { counts[base.lowercased(), default: 0] += 1 }
        for index in items.indices {
            let base = bases[index]
            items[index].stem = counts[base.lowercased(), default: 0] > 1 ? "\(base)-\(items[index].id.prefix(8))" : base
        }
    }
}

/// File-name hygiene for names the tool creates.
public enum Sanitize {
    /// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `_`; never empty, at most 100 characters.
    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    public static func stem(_ text: String) -> String {
        var out = String(text.map { allowed.contains($0) ? $0 : "_" }.prefix(100))
        while out.hasPrefix(".") { out.removeFirst() }
        return out.isEmpty ? "image" : out
    }
}
