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

    /// Items are resolved the same whatever the stages (the graph is tested with the real pipeline in
    /// ElenaStagesTests' PipelineTests): plan with none.
    static func plan(_ manifest: Manifest, files: [SourceFile]) throws -> DropPlan {
        try Planner.plan(manifest, files: files, pipeline: PipelineShape([]))
    }

    // MARK: - Items

    @Test func identicalBytesBecomeOneItemWithTheDuplicatesRecorded() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
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
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
        #expect(plan.skipped.map(\.path) == ["ComfyUI_00043_bad.png"])
        #expect(plan.skipped.first?.reason == "skip: true in items[2] (*_bad.png)")
        #expect(!plan.items.contains { $0.source.relativePath == "ComfyUI_00043_bad.png" })
    }

    @Test func overridesApplyInOrderWithLaterEntriesWinning() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
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
        let plan = try Self.plan(manifest, files: Self.files)
        let other = try #require(plan.items.first { $0.source.relativePath == "other/photo.png" })
        #expect(other.overrides == [])
        #expect(other.crop == manifest.crop)
        #expect(other.publish == ItemPublish(
            vault: "elena-ppv", priceCents: 1200, tags: ["lingerie", "mirror"], caption: "base caption", category: nil))
    }

    /// Items the same rules matched share their settings, yet each stays a value: what one item is given on its
    /// own (a person's price in review) is that item's alone, and equal settings compare equal however they are held.
    @Test func itemsTheSameRulesMatchedShareSettingsAndStayValues() throws {
        let manifest = try Self.manifest()
        let files = Self.files + [Self.file("other/second.png", bytes: "G")]
        var plan = try Self.plan(manifest, files: files)
        let plain = plan.items.indices.filter { plan.items[$0].overrides.isEmpty }
        #expect(plain.count == 3, "other/photo.png, x/PHOTO.jpg, other/second.png")
        #expect(plain.allSatisfy { plan.items[$0].crop == manifest.crop && plan.items[$0].publish.priceCents == 1200 })
        let overrides = ItemOverrides(
            lines: [:], publish: [plan.items[plain[0]].id: PublishOverride(vault: "own-vault", priceCents: 999, tags: nil)])
        let applied = plan.applying(overrides)
        #expect(applied.items[plain[0]].publish.vault == "own-vault" && applied.items[plain[0]].publish.priceCents == 999)
        for index in plain.dropFirst() {
            #expect(applied.items[index].publish.vault == "elena-ppv" && applied.items[index].publish.priceCents == 1200)
        }
        #expect(plan.items[plain[0]].publish.priceCents == 1200, "the plan it was applied to is unchanged")
        plan.items[plain[1]].crop.margin = 0.3
        #expect(plan.items[plain[1]].crop.margin == 0.3 && plan.items[plain[2]].crop.margin == manifest.crop.margin)
        // Equal settings held apart are equal, and hash alike.
        plan.items[plain[1]].crop.margin = manifest.crop.margin
        var one = plan.items[plain[1]]
        var other = plan.items[plain[2]]
        (one.source, one.id, one.stem, other.stem) = (other.source, other.id, "", "")
        #expect(one == other && one.hashValue == other.hashValue)
    }

    @Test func aPatternWithASlashMatchesTheRelativePath() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
        let sub = try #require(plan.items.first { $0.source.relativePath == "sub/photo.png" })
        #expect(sub.overrides == [3])
        #expect(sub.publish.vault == "sub-vault")
        #expect(sub.publish.caption == "from sub")
        let other = try #require(plan.items.first { $0.source.relativePath == "other/photo.png" })
        #expect(other.publish.vault == "elena-ppv")
    }

    @Test func stemsAreUniqueAndSuffixedWithTheDigestWhenShared() throws {
        let plan = try Self.plan(try Self.manifest(), files: Self.files)
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
        let plan = try Self.plan(try Self.manifest(), files: files)
        #expect(plan.items[0].stem == "my_photo__1_-" + Digest.of("my photo (1).png").prefix(8))
        #expect(plan.items[1].stem == "my_photo__1_-" + Digest.of("my_photo__1_.jpg").prefix(8))
        #expect(plan.items[2].stem == "_")
    }

    /// Stages wired in a circle are refused, named by stage, however many items the drop holds (the check is on the
    /// stages, which is where any cycle of the nodes would come from).
    @Test func stagesWiredInACircleAreRefused() throws {
        let shape = PipelineShape([
            StageDeclaration(StageName("a"), level: .item, reads: [StageName("c")]),
            StageDeclaration(StageName("b"), level: .item, reads: [StageName("a")]),
            StageDeclaration(StageName("c"), level: .item, reads: [StageName("b")]),
        ])
        let error = try #require(throws: Graph<StageName>.CycleError.self) {
            try Planner.plan(try Self.manifest(), files: [Self.file("x.png")], pipeline: shape)
        }
        #expect(Set(error.path) == [StageName("a"), StageName("b"), StageName("c")])
        #expect(error.path.first == error.path.last)
    }
}
