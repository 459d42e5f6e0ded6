import Foundation

/// A source file found by discovery, with its content digest.
package struct SourceFile: Sendable, Hashable {
    /// Absolute path.
    package var path: String
    /// Path relative to the source folder (used for matching and display).
    package var relativePath: String
    /// Size in bytes.
    package var size: Int64
    /// SHA-256 of the bytes.
    package var digest: Digest

    /// Creates a source file record.
    package init(path: String, relativePath: String, size: Int64, digest: Digest) {
        self.path = path
        self.relativePath = relativePath
        self.size = size
        self.digest = digest
    }

    /// The file name.
    package var name: String { PathText.lastComponent(relativePath) }
}

/// What an item is published as: the drop's publish section with the item's overrides applied.
package struct ItemPublish: Sendable, Hashable {
    /// Vault folder.
    package var vault: String?
    /// Price in cents.
    package var priceCents: Int?
    /// Tags.
    package var tags: [String]
    /// Caption as written.
    package var caption: String?
    /// Category.
    package var category: String?

    /// Creates the metadata.
    package init(vault: String?, priceCents: Int?, tags: [String], caption: String?, category: String?) {
        self.vault = vault
        self.priceCents = priceCents
        self.tags = tags
        self.caption = caption
        self.category = category
    }
}

/// One item of a drop: unique bytes, with its resolved configuration.
package struct PlannedItem: Sendable, Hashable {
    /// The content digest, which is the item's identity.
    package var id: Digest
    /// The first source file with these bytes.
    package var source: SourceFile
    /// Other paths holding the same bytes (recorded once, reported).
    package var duplicates: [String]
    /// A name stem unique within the drop, used for the files the item produces.
    package var stem: String
    /// Crop settings after overrides.
    package var crop: CropSpec {
        get { settings.crop }
        set { settings = Settings(crop: newValue, publish: settings.publish) }
    }
    /// Publish metadata after overrides.
    package var publish: ItemPublish {
        get { settings.publish }
        set { settings = Settings(crop: settings.crop, publish: newValue) }
    }
    /// Both, behind one reference that the items the same rules matched share: a drop of 100,000 items held as many
    /// copies of the same settings inline (14 MB), and every copy of an item counted each string in them.
    private var settings: Settings
    /// Indices of the `items:` overrides that matched, in order; items with the same list share parameters.
    package var overrides: [Int]
    /// Whether vault, price or tags were set for this item alone (in review), so its parameters are its own.
    package var hasOwnMetadata = false
    /// A cut line a person chose for this item (`recrop`, the review page), as a fraction of the height: it wins
    /// over the strategy.
    package var lineOverride: Double?

    /// The file name shown to people.
    package var name: String { source.name }

    /// An item with the settings it shares with others.
    init(id: Digest, source: SourceFile, duplicates: [String], stem: String, settings: Settings, overrides: [Int]) {
        self.id = id
        self.source = source
        self.duplicates = duplicates
        self.stem = stem
        self.settings = settings
        self.overrides = overrides
    }

    /// Crop and publish settings as items share them; never changed in place (a change makes new ones).
    final class Settings: Sendable, Hashable {
        let crop: CropSpec
        let publish: ItemPublish

        init(crop: CropSpec, publish: ItemPublish) {
            self.crop = crop
            self.publish = publish
        }

        static func == (lhs: Settings, rhs: Settings) -> Bool { lhs === rhs || (lhs.crop == rhs.crop && lhs.publish == rhs.publish) }

        func hash(into hasher: inout Hasher) {
            hasher.combine(crop)
            hasher.combine(publish)
        }
    }
}

/// What people set per item outside the manifest, kept in the ledger.
package struct ItemOverrides: Sendable, Hashable {
    /// Cut lines (fraction of the height), by item.
    package var lines: [Digest: Double]
    /// Vault, price and tags set in review, by item.
    package var publish: [Digest: PublishOverride]

    /// Overrides.
    package init(lines: [Digest: Double] = [:], publish: [Digest: PublishOverride] = [:]) {
        self.lines = lines
        self.publish = publish
    }

    /// Whether there is none.
    package var isEmpty: Bool { lines.isEmpty && publish.isEmpty }
}

/// One job of a drop's source plan (a (prompt, seed) of `generate:`): what its cache key is made of, and how people
/// name it.
package struct PlannedJob: Sendable, Hashable {
    /// The parameters its key is made of (generation: the graph queued on ComfyUI, canonical).
    package var parameters: JSONValue
    /// `prompt 2, seed 1001`.
    package var label: String

    /// Creates a job.
    package init(parameters: JSONValue, label: String) {
        self.parameters = parameters
        self.label = label
    }
}

/// Everything a run of one manifest would do: the items and the graph of nodes.
package struct DropPlan: Sendable {
    /// The drop's name.
    package var drop: String
    /// The manifest after decoding.
    package var manifest: Manifest
    /// Items in source order.
    package var items: [PlannedItem]
    /// The jobs of a source plan (`Planner.sourcePlan`); empty in an item plan.
    package var jobs: [PlannedJob] = []
    /// Files left out, with the reason (`skip: true`).
    package var skipped: [(path: String, reason: String)]
    /// `items:` rules that matched no source file (likely typos).
    package var unmatchedRules: [UnmatchedRule] = []
    /// The stages the manifest includes, in pipeline order.
    package var stages: [StageName]
    /// The graph.
    package var graph: PlanGraph
    /// Nodes in a stable topological order, worked out when asked for (the runner needs none: it starts nodes as
    /// their inputs finish). The planner checked the stages' wiring has no cycle, so the nodes have none.
    package var order: [NodeID] { graph.topologicalOrder() }

    /// The plan with what a person set per item after the manifest (a cut line, vault, price, tags) applied over
    /// the manifest's: the one way such settings reach the stages.
    package func applying(_ overrides: ItemOverrides) -> DropPlan {
        guard !overrides.isEmpty else { return self }
        var plan = self
        for index in plan.items.indices {
            plan.items[index].lineOverride = overrides.lines[plan.items[index].id]
            guard let override = overrides.publish[plan.items[index].id], !override.isEmpty else { continue }
            if let vault = override.vault { plan.items[index].publish.vault = vault }
            if let price = override.priceCents { plan.items[index].publish.priceCents = price }
            if let tags = override.tags { plan.items[index].publish.tags = tags }
            plan.items[index].hasOwnMetadata = true
        }
        return plan
    }

    /// What a node works on: the item's file name, or `drop <name>`.
    package func subject(_ node: NodeID) -> String {
        switch node.unit {
        case .drop: return "drop \(drop)"
        case .item(let index): return items[index].source.relativePath
        case .job(let index): return jobs[index].label
        }
    }

    /// A label for a node, e.g. `crop ComfyUI_00001_.png`.
    package func label(_ node: NodeID) -> String {
        switch node.unit {
        case .drop: return "\(node.stage.rawValue) (\(drop))"
        case .item(let index): return "\(node.stage.rawValue) \(items[index].name)"
        case .job(let index): return "\(node.stage.rawValue) \(jobs[index].label)"
        }
    }

    /// The graph in Graphviz dot syntax. `sources` draws the job nodes that run before discovery (generation's
    /// pairs), each with an edge to the items made of the files it made (`files`: paths relative to the source).
    package func dot(sources: [(label: String, files: [String])] = []) -> String {
        var lines = ["digraph \"\(escape(drop))\" {", "  rankdir=LR;", "  node [shape=box, fontname=\"Helvetica\"];"]
        if !sources.isEmpty {
            var itemByPath: [String: Int] = [:]
            for (index, item) in items.enumerated() {
                for path in [item.source.relativePath] + item.duplicates { itemByPath[path] = index }
            }
            let firstStage = graph.nodes.first { $0.item != nil }?.stage
            for (index, source) in sources.enumerated() {
                lines.append("  \"generate#\(index)\" [label=\"\(escape("generate " + source.label))\"];")
                let fed = Set(source.files.compactMap { itemByPath[$0] }).sorted()
                for item in fed {
                    guard let stage = firstStage else { break }
                    lines.append("  \"generate#\(index)\" -> \"\(escape(id(NodeID(stage, item: item))))\";")
                }
            }
        }
        let order = self.order
        for node in order {
            lines.append("  \"\(escape(id(node)))\" [label=\"\(escape(label(node)))\"];")
        }
        for node in order {
            let dependencies = graph.dependencies(of: node)
            for dependency in dependencies.sorted(by: { graph.index(of: $0) ?? 0 < graph.index(of: $1) ?? 0 }) {
                lines.append("  \"\(escape(id(dependency)))\" -> \"\(escape(id(node)))\";")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private func id(_ node: NodeID) -> String {
        switch node.unit {
        case .drop: return node.stage.rawValue
        case .item(let index): return "\(node.stage.rawValue):\(items[index].id.prefix(12))"
        case .job(let index): return "\(node.stage.rawValue)#\(index)"
        }
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
