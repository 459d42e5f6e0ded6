import ElenaCore
import Testing

@Suite struct PlannerTests {
    static func manifest(to target: String = "folder") throws -> Manifest {
        let text = yaml(
            "version: 1",
            "drop: drop-03",
            "source:",
            "  dir: in",
            "crop:",
            "  strategy: no_face",
            "publish:",
            "  to: \(target)",
            "  vault: elena-ppv",
            "  price: 12.00",
            "  tags: [lingerie, mirror]",
            "  caption: base caption",
            "items:",
            "  - match: \"ComfyUI_0004*\"",
            "    crop: {strategy: lips_only}",
            "    price: 20.00",
            "  - match: \"*_00042_*\"",
            "    price: 25.00",
            "    tags: [special]",
            "    crop: {margin: 0.1}",
            "  - match: \"*_bad.png\"",
            "    skip: true",
            "  - match: \"sub/*\"",
            "    vault: sub-vault",
            "    caption: from sub")
        return try ManifestDecoder.decode(text, file: "drop-03.yaml").0
    }

    static func file(_ relativePath: String, bytes: String? = nil) -> SourceFile {
        SourceFile(
            path: "/in/" + relativePath, relativePath: relativePath, size: 100, digest: Digest.of(bytes ?? relativePath))
    }

    /// Discovery order (sorted by relative path).
    static let files = [
        file("ComfyUI_00041_.png", bytes: "A"),
        file("ComfyUI_00042_.png", bytes: "B"),
        file("ComfyUI_00043_bad.png", bytes: "C"),
        file("copy/ComfyUI_00041_.png", bytes: "A"),  // the same bytes as the first file
        file("other/photo.png", bytes: "D"),
        file("sub/photo.png", bytes: "E"),
        file("x/PHOTO.jpg", bytes: "F"),
        file("y/ComfyUI_00041_.png", bytes: "A"),  // and again
    ]

    // MARK: - Items

    @Test func identicalBytesBecomeOneItemWithTheDuplicatesRecorded() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        #expect(plan.items.map(\.source.relativePath) == [
            "ComfyUI_00041_.png", "ComfyUI_00042_.png", "other/photo.png", "sub/photo.png", "x/PHOTO.jpg",
        ])
        #expect(plan.items[0].id == Digest.of("A"))
        #expect(plan.items[0].duplicates == ["copy/ComfyUI_00041_.png", "y/ComfyUI_00041_.png"])
        #expect(plan.items.dropFirst().allSatisfy { $0.duplicates.isEmpty })
        #expect(Set(plan.items.map(\.id)).count == plan.items.count)
        #expect(plan.drop == "drop-03")
    }

    @Test func skippedFilesAreListedWithTheEntryThatSkippedThem() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        #expect(plan.skipped.map(\.path) == ["ComfyUI_00043_bad.png"])
        #expect(plan.skipped.first?.reason == "skip: true in items[2] (*_bad.png)")
        #expect(!plan.items.contains { $0.source.relativePath == "ComfyUI_00043_bad.png" })
    }

    @Test func overridesApplyInOrderWithLaterEntriesWinning() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        let first = plan.items[0]
        #expect(first.overrides == [0])
        #expect(first.crop.strategy == .lipsOnly)
        #expect(first.crop.margin == 0.02)
        #expect(first.publish.priceCents == 2000)
        #expect(first.publish.tags == ["lingerie", "mirror"])

        let second = plan.items[1]
        #expect(second.overrides == [0, 1])
        #expect(second.crop.strategy == .lipsOnly, "kept from items[0]")
        #expect(second.crop.margin == 0.1, "added by items[1]")
        #expect(second.publish.priceCents == 2500, "items[1] wins over items[0]")
        #expect(second.publish.tags == ["special"], "tags are replaced, not merged")
        #expect(second.publish.vault == "elena-ppv")
        #expect(second.publish.caption == "base caption")
    }

    @Test func unmatchedFilesKeepTheDropSettings() throws {
        let manifest = try Self.manifest()
        let plan = try Planner.plan(manifest, files: Self.files)
        let other = try #require(plan.items.first { $0.source.relativePath == "other/photo.png" })
        #expect(other.overrides == [])
        #expect(other.crop == manifest.crop)
        #expect(other.publish == ItemPublish(
            vault: "elena-ppv", priceCents: 1200, tags: ["lingerie", "mirror"], caption: "base caption", category: nil))
    }

    @Test func aPatternWithASlashMatchesTheRelativePath() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        let sub = try #require(plan.items.first { $0.source.relativePath == "sub/photo.png" })
        #expect(sub.overrides == [3])
        #expect(sub.publish.vault == "sub-vault")
        #expect(sub.publish.caption == "from sub")
        let other = try #require(plan.items.first { $0.source.relativePath == "other/photo.png" })
        #expect(other.publish.vault == "elena-ppv")
    }

    @Test func stemsAreUniqueAndSuffixedWithTheDigestWhenShared() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        #expect(plan.items[0].stem == "ComfyUI_00041_")
        #expect(plan.items[1].stem == "ComfyUI_00042_")
        // photo, photo and PHOTO collide (file systems may ignore case): all three get the digest.
        #expect(plan.items[2].stem == "photo-" + Digest.of("D").prefix(8))
        #expect(plan.items[3].stem == "photo-" + Digest.of("E").prefix(8))
        #expect(plan.items[4].stem == "PHOTO-" + Digest.of("F").prefix(8))
        #expect(Set(plan.items.map { $0.stem.lowercased() }).count == plan.items.count)
    }

    @Test func stemsAreSanitized() throws {
        let files = [Self.file("my photo (1).png"), Self.file("my_photo__1_.jpg"), Self.file("é.png")]
        let plan = try Planner.plan(try Self.manifest(), files: files)
        #expect(plan.items[0].stem == "my_photo__1_-" + Digest.of("my photo (1).png").prefix(8))
        #expect(plan.items[1].stem == "my_photo__1_-" + Digest.of("my_photo__1_.jpg").prefix(8))
        #expect(plan.items[2].stem == "_")
    }

    // MARK: - Graph

    @Test func edgesFollowTheStageInputs() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        let outbox = NodeID(.outbox, item: nil)
        #expect(plan.graph.nodes.count == plan.items.count * 5 + 1)
        for index in plan.items.indices {
            func node(_ stage: StageName) -> NodeID { NodeID(stage, item: index) }
            #expect(plan.graph.dependencies(of: node(.ingest)).isEmpty)
            #expect(plan.graph.dependencies(of: node(.detect)) == [node(.ingest)])
            #expect(Set(plan.graph.dependencies(of: node(.crop))) == [node(.ingest), node(.detect)])
            #expect(plan.graph.dependencies(of: node(.review)) == [node(.crop)])
            #expect(Set(plan.graph.dependencies(of: node(.publish))) == [node(.review), outbox])
        }
        #expect(plan.graph.dependencies(of: outbox).isEmpty)
        #expect(plan.graph.dependents(of: outbox).count == plan.items.count)
    }

    @Test func fanvueUploadsEachItemThenCollectsTheUploadsIntoTheVault() throws {
        let plan = try Planner.plan(try Self.manifest(to: "fanvue"), files: Self.files)
        let vault = NodeID(.vault, item: nil)
        let attach = NodeID(.attach, item: nil)
        #expect(plan.graph.nodes.count == plan.items.count * 5 + 2, "per item five nodes, plus vault and attach")
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

    @Test(arguments: ["folder", "fanvue"])
    func orderIsTopologicalAndStartsWithTheDropLevelNode(target: String) throws {
        let plan = try Planner.plan(try Self.manifest(to: target), files: Self.files)
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

    @Test func emptyDropPlansOnlyTheOutbox() throws {
        let plan = try Planner.plan(try Self.manifest(), files: [])
        #expect(plan.items.isEmpty)
        #expect(plan.order == [NodeID(.outbox, item: nil)])
    }

    @Test func labelsAndSubjects() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
        #expect(plan.label(NodeID(.crop, item: 0)) == "crop ComfyUI_00041_.png")
        #expect(plan.label(NodeID(.outbox, item: nil)) == "outbox (drop-03)")
        #expect(plan.subject(NodeID(.review, item: 3)) == "sub/photo.png")
        #expect(plan.subject(NodeID(.outbox, item: nil)) == "drop drop-03")
        #expect(plan.items[3].name == "photo.png")
    }

    @Test func dotHasEveryNodeAndEveryEdge() throws {
        let plan = try Planner.plan(try Self.manifest(), files: Self.files)
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
        #expect(lines.filter { $0.contains(" -> ") }.count == plan.items.count * 6)
        #expect(lines.contains("  \"outbox\" -> \"publish:\(plan.items[0].id.prefix(12))\";"))
        #expect(lines.contains("  \"ingest:\(plan.items[0].id.prefix(12))\" -> \"crop:\(plan.items[0].id.prefix(12))\";"))
    }

    @Test func dotEscapesQuotesInLabels() throws {
        let plan = try Planner.plan(try Self.manifest(), files: [Self.file(#"say "hi"\now.png"#)])
        #expect(plan.dot().contains(#"[label="crop say \"hi\"\\now.png"];"#))
    }

    @Test func nodeOrderPutsDropLevelFirstThenItemsThenStages() {
        let nodes = [
            NodeID(.publish, item: 1), NodeID(.ingest, item: 1), NodeID(.crop, item: 0), NodeID(.outbox, item: nil),
            NodeID(.ingest, item: 0),
        ]
        #expect(nodes.sorted() == [
            NodeID(.outbox, item: nil), NodeID(.ingest, item: 0), NodeID(.crop, item: 0), NodeID(.ingest, item: 1),
            NodeID(.publish, item: 1),
        ])
        #expect(
            StageName.allCases.sorted() == [
                .generate, .outbox, .vault, .ingest, .detect, .crop, .review, .publish, .upload, .attach, .post, .message,
            ])
        #expect(StageName.outbox.isDropLevel && !StageName.crop.isDropLevel && StageName.attach.isDropLevel)
        // Collectors sort after every item node; feeding drop-level nodes before.
        #expect(NodeID(.attach, item: nil) > NodeID(.upload, item: 99))
        #expect(NodeID(.vault, item: nil) < NodeID(.ingest, item: 0))
        #expect(Planner.itemStages == [.ingest, .detect, .crop, .review, .publish])
    }
}
