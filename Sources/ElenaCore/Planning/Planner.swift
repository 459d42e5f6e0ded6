/// Builds a drop's graph from its manifest, the files discovery found and the pipeline's shape. Pure.
package enum Planner {
    /// Plans a drop.
    /// - Parameters:
    ///   - manifest: the decoded manifest.
    ///   - files: the source files in discovery order (sorted by relative path).
    ///   - pipeline: the stages and how they connect (`ElenaPipeline.shape` in ElenaStages).
    /// - Throws: `Graph.CycleError` only if the stage wiring itself is wrong (a bug).
    package static func plan(_ manifest: Manifest, files: [SourceFile], pipeline: PipelineShape) throws -> DropPlan {
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

        let stages = pipeline.stages(for: manifest)
        let graph = graph(stages, itemCount: items.count)
        let order = try graph.topologicalOrder()
        return DropPlan(
            drop: manifest.drop, manifest: manifest, items: items, skipped: skipped, stages: stages.map(\.name),
            graph: graph, order: order)
    }

    /// The graph of `stages` (in pipeline order) over `itemCount` items. Nodes are added in the order work should
    /// start: drop stages declared before the first item stage, then each item's chain, then the other drop stages.
    static func graph(_ stages: [StageDeclaration], itemCount: Int) -> Graph<NodeID> {
        let names = Set(stages.map(\.name))
        let firstItemStage = stages.firstIndex { $0.level == .item } ?? stages.count
        let itemStages = stages.filter { $0.level == .item }
        var graph = Graph<NodeID>()
        graph.reserveCapacity(itemCount * itemStages.count + stages.count)
        func dropNodes(_ after: [StageName]) -> [NodeID] { after.filter(names.contains).map { NodeID($0, item: nil) } }
        for stage in stages[..<firstItemStage] where stage.level == .drop { graph.add(NodeID(stage.name, item: nil)) }
        for index in 0..<itemCount {
            for stage in itemStages {
                let prerequisites = stage.reads.map { NodeID($0, item: index) } + dropNodes(stage.after)
                graph.add(NodeID(stage.name, item: index), dependsOn: prerequisites)
            }
        }
        for stage in stages where stage.level == .drop {
            let collected = (0..<itemCount).flatMap { index in stage.reads.map { NodeID($0, item: index) } }
            graph.add(NodeID(stage.name, item: nil), dependsOn: dropNodes(stage.after) + collected)
        }
        return graph
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
package enum Sanitize {
    /// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `_`; never empty, at most 100 characters.
    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

    package static func stem(_ text: String) -> String {
        var out = String(text.map { allowed.contains($0) ? $0 : "_" }.prefix(100))
        while out.hasPrefix(".") { out.removeFirst() }
        return out.isEmpty ? "image" : out
    }
}
