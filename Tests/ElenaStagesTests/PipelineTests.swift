import ElenaCore
import ElenaEngine
import ElenaStages
import Testing

/// The product's pipeline (`ElenaPipeline`) as the planner lays it out: edges, node order, the graph's text.
@Suite struct PipelineTests {
    static func manifest(to target: String = "folder", extra: [String] = []) throws -> Manifest {
        let lines = [
            "version: 1", "drop: drop-03", "source:", "  dir: in", "crop:", "  strategy: no_face", "publish:",
            "  to: \(target)", "  vault: elena-ppv", "  price: 12.00",
        ]
        return try ManifestDecoder.decode((lines + extra).joined(separator: "\n") + "\n", file: "drop-03.yaml").0
    }

    static func file(_ relativePath: String) -> SourceFile {
        SourceFile(path: "/in/" + relativePath, relativePath: relativePath, size: 100, digest: Digest.of(relativePath))
    }

    static let files = ["ComfyUI_00041_.png", "ComfyUI_00042_.png", "other/photo.png", "sub/photo.png"].map(file)

    static func plan(_ manifest: Manifest, files: [SourceFile]) throws -> DropPlan {
        try Planner.plan(manifest, files: files, pipeline: ElenaPipeline.shape)
    }

    @Test func edgesFollowTheStageInputs() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
        let outbox = NodeID(.outbox, item: nil)
        #expect(plan.graph.nodes.count == plan.items.count * 6 + 2, "six nodes per item, plus outbox and similar")
        #expect(plan.stages == [.outbox, .ingest, .detect, .crop, .fingerprint, .review, .similar, .publish])
        for index in plan.items.indices {
            func node(_ stage: StageName) -> NodeID { NodeID(stage, item: index) }
            #expect(plan.graph.dependencies(of: node(.ingest)).isEmpty)
            #expect(plan.graph.dependencies(of: node(.detect)) == [node(.ingest)])
            #expect(Set(plan.graph.dependencies(of: node(.crop))) == [node(.ingest), node(.detect)])
            #expect(Set(plan.graph.dependencies(of: node(.fingerprint))) == [node(.ingest), node(.crop)])
            #expect(plan.graph.dependencies(of: node(.review)) == [node(.crop)])
            #expect(Set(plan.graph.dependencies(of: node(.publish))) == [node(.review), outbox])
        }
        #expect(
            Set(plan.graph.dependencies(of: NodeID(.similar, item: nil)))
                == Set(plan.items.indices.map { NodeID(.fingerprint, item: $0) }), "the groups compare every item's fingerprints")
        #expect(plan.graph.dependencies(of: outbox).isEmpty)
        #expect(plan.graph.dependents(of: outbox).count == plan.items.count)
    }

    @Test func fanvueUploadsEachItemThenCollectsTheUploadsIntoTheVault() throws {
        let plan = try Self.plan(try Self.manifest(to: "fanvue"), files: Self.files)
        let vault = NodeID(.vault, item: nil)
        let attach = NodeID(.attach, item: nil)
        #expect(plan.graph.nodes.count == plan.items.count * 6 + 3, "per item six nodes, plus vault, similar and attach")
        #expect(plan.stages == [.vault, .ingest, .detect, .crop, .fingerprint, .review, .similar, .upload, .attach])
        #expect(!plan.graph.nodes.contains(NodeID(.outbox, item: nil)))
        #expect(!plan.graph.nodes.contains(NodeID(.publish, item: 0)))
        for index in plan.items.indices {
            #expect(plan.graph.dependencies(of: NodeID(.upload, item: index)) == [NodeID(.review, item: index)])
        }
        #expect(Set(plan.graph.dependencies(of: attach)) == Set([vault] + plan.items.indices.map { NodeID(.upload, item: $0) }))
        let reviews = plan.items.indices.map { NodeID(.review, item: $0) }
        #expect(Set(plan.graph.dependencies(of: vault)) == Set(reviews), "the vault is made only after review")
        #expect(plan.order.last == attach, "the collector comes after every item")
        #expect(!plan.dot().contains("outbox"))
    }

    @Test func aPostAndAMessageCollectTheUploadsAfterAttach() throws {
        let manifest = try Self.manifest(
            to: "fanvue", extra: ["  post: {audience: subscribers, text: hi, allow_ppv_items: true}",
                "  message: {text: hi, to: [0b0e7c1e-4b39-4c4e-9f55-3d9d4b6a1a01]}",])
        let plan = try Self.plan(manifest, files: Self.files)
        #expect(plan.stages == [.vault, .ingest, .detect, .crop, .fingerprint, .review, .similar, .upload, .attach, .post, .message])
        let uploads = plan.items.indices.map { NodeID(.upload, item: $0) }
        for stage in [StageName.post, .message] {
            #expect(Set(plan.graph.dependencies(of: NodeID(stage, item: nil))) == Set([NodeID(.attach, item: nil)] + uploads))
        }
        #expect(Array(plan.order.suffix(3)) == [NodeID(.attach, item: nil), NodeID(.post, item: nil), NodeID(.message, item: nil)])
    }

    @Test(arguments: ["folder", "fanvue"])
    func orderIsTopologicalAndStartsWithTheDropLevelNode(target: String) throws {
        let plan = try Self.plan(try Self.manifest(to: target), files: Self.files)
        if target == "folder" { #expect(plan.order.first == NodeID(.outbox, item: nil)) }
        #expect(plan.order.count == plan.graph.nodes.count)
        #expect(Set(plan.order) == Set(plan.graph.nodes))
        var position: [NodeID: Int] = [:]
        for (index, node) in plan.order.enumerated() { position[node] = index }
        for node in plan.order {
            for dependency in plan.graph.dependencies(of: node) {
                #expect((position[dependency] ?? .max) < (position[node] ?? .min), "\(dependency) before \(node)")
            }
        }
        // Item chains are started in item order, so one item finishes before many others begin.
        let ingests = plan.order.filter { $0.stage == .ingest }.compactMap(\.item)
        #expect(ingests == Array(plan.items.indices))
    }

    /// The graph as it was stored before it was laid out by rule: every node and edge added one by one.
    static func storedGraph(_ stages: [StageDeclaration], itemCount: Int) -> Graph<NodeID> {
        let names = Set(stages.map(\.name))
        let firstItemStage = stages.firstIndex { $0.level == .item } ?? stages.count
        var graph = Graph<NodeID>()
        func dropNodes(_ after: [StageName]) -> [NodeID] { after.filter(names.contains).map { NodeID($0, item: nil) } }
        for stage in stages[..<firstItemStage] where stage.level == .drop { graph.add(NodeID(stage.name, item: nil)) }
        for index in 0..<itemCount {
            for stage in stages where stage.level == .item {
                graph.add(NodeID(stage.name, item: index), dependsOn: stage.reads.map { NodeID($0, item: index) } + dropNodes(stage.after))
            }
        }
        for stage in stages where stage.level == .drop {
            let collected = (0..<itemCount).flatMap { index in stage.reads.map { NodeID($0, item: index) } }
            graph.add(NodeID(stage.name, item: nil), dependsOn: dropNodes(stage.after) + collected)
        }
        return graph
    }

    @Test(arguments: [
        ("folder", [String]()),
        ("fanvue", ["  post: {audience: subscribers, text: hi, allow_ppv_items: true}", "  message: {text: hi, to: [0b0e7c1e-4b39-4c4e-9f55-3d9d4b6a1a01]}"]),
    ])
    func theGraphLaidOutByRuleIsTheGraphStoredEdgeByEdge(target: String, extra: [String]) throws {
        let manifest = try Self.manifest(to: target, extra: extra)
        for count in [0, 1, 3] {
            let plan = try Self.plan(manifest, files: Array(Self.files.prefix(count)))
            let stored = Self.storedGraph(ElenaPipeline.shape.stages(for: manifest), itemCount: count)
            #expect(Array(plan.graph.nodes) == stored.nodes, "nodes in the same order")
            for (index, node) in stored.nodes.enumerated() {
                #expect(plan.graph.index(of: node) == index)
                // The order of a node's inputs makes a collector's cache key: it must not change.
                #expect(plan.graph.dependencies(of: node) == stored.dependencies(of: node), "\(node)")
                #expect(plan.graph.dependencyCount(of: index) == stored.dependencyCount(of: index), "\(node)")
                #expect(Set(plan.graph.dependents(of: node)) == Set(stored.dependents(of: node)), "\(node)")
                #expect(plan.graph.dependents(of: node).count == stored.dependents(of: node).count, "\(node)")
            }
            #expect(plan.order == (try stored.topologicalOrder()))
        }
    }

    @Test func nodesAreAddedDropLevelFeedersFirstThenItemByItemThenCollectors() throws {
        let plan = try Self.plan(try Self.manifest(to: "fanvue"), files: Array(Self.files.prefix(2)))
        let item = [StageName.ingest, .detect, .crop, .fingerprint, .review, .upload]
        #expect(
            Array(plan.graph.nodes)
                == [NodeID(.vault, item: nil)] + item.map { NodeID($0, item: 0) } + item.map { NodeID($0, item: 1) }
                + [NodeID(.similar, item: nil), NodeID(.attach, item: nil)])
    }

    @Test func emptyDropPlansOnlyTheDropLevelNodes() throws {
        let plan = try Self.plan(try Self.manifest(), files: [])
        #expect(plan.items.isEmpty)
        #expect(plan.order == [NodeID(.outbox, item: nil), NodeID(.similar, item: nil)])
    }

    @Test func labelsAndSubjects() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
        #expect(plan.label(NodeID(.crop, item: 0)) == "crop ComfyUI_00041_.png")
        #expect(plan.label(NodeID(.outbox, item: nil)) == "outbox (drop-03)")
        #expect(plan.subject(NodeID(.review, item: 3)) == "sub/photo.png")
        #expect(plan.subject(NodeID(.outbox, item: nil)) == "drop drop-03")
        #expect(plan.items[3].name == "photo.png")
    }

    @Test func dotHasEveryNodeAndEveryEdge() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
        let dot = plan.dot()
        #expect(dot.hasPrefix("digraph \"drop-03\" {\n  rankdir=LR;\n"))
        #expect(dot.hasSuffix("}\n"))
        func id(_ node: NodeID) -> String {
            node.item.map { "\(node.stage.rawValue):\(plan.items[$0].id.prefix(12))" } ?? node.stage.rawValue
        }
        let lines = Set(dot.split(separator: "\n").map(String.init))
        for node in plan.graph.nodes {
            #expect(lines.contains("  \"\(id(node))\" [label=\"\(plan.label(node))\"];"), "\(node)")
            for dependency in plan.graph.dependencies(of: node) {
                #expect(lines.contains("  \"\(id(dependency))\" -> \"\(id(node))\";"), "\(dependency) -> \(node)")
            }
        }
        #expect(lines.filter { $0.contains(" -> ") }.count == plan.items.count * 9)
        #expect(lines.contains("  \"outbox\" -> \"publish:\(plan.items[0].id.prefix(12))\";"))
        #expect(lines.contains("  \"ingest:\(plan.items[0].id.prefix(12))\" -> \"crop:\(plan.items[0].id.prefix(12))\";"))
    }

    @Test func dotEscapesQuotesInLabels() throws {
        let plan = try Self.plan(try Self.manifest(), files: [Self.file(#"say "hi"\now.png"#)])
        #expect(plan.dot().contains(#"[label="crop say \"hi\"\\now.png"];"#))
    }

    @Test func theShapeNamesEveryStageOnceInPipelineOrder() {
        let names = ElenaPipeline.shape.stages.map(\.name)
        #expect(
            names == [.generate, .outbox, .vault, .ingest, .detect, .crop, .fingerprint, .review, .similar, .publish, .upload, .attach, .post, .message])
        #expect(ElenaPipeline.shape.stages.filter { $0.level == .job }.map(\.name) == [.generate])
        #expect(ElenaPipeline.shape.stages.filter { $0.level == .drop }.map(\.name) == [.outbox, .vault, .similar, .attach, .post, .message])
    }
}
