import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

@Suite struct RunnerTests {
    @Test func aSecondRunDoesNoWorkAndHashesNothing() async throws {
        let harness = try SessionHarness(images: 5)
        defer { harness.folder.remove() }
        let first = try await harness.run()
        #expect(first.count(.crop, "ran") == 5)
        #expect(first.count(.review, "waiting") == 5)
        #expect(first.exitCode == 3)
        let second = try await harness.run()
        for stage in [StageName.ingest, .detect, .crop] { #expect(second.count(stage, "cached") == 5) }
        #expect(second.count(.review, "waiting") == 5)
        #expect(!second.states.values.contains { if case .ran = $0 { return true } else { return false } })
        let events = try await harness.withStore { try await $0.events(drop: "eng", limit: 2) }
        #expect(events.first?.data?["hashed"]?.intValue == 5)
        #expect(events.last?.data?["hashed"]?.intValue == 0, "unchanged files are recognised by their stamp")
    }

    /// The item rows are read and updated a part at a time as the run settles each part: every part's rows follow
    /// the run.
    @Test func theItemRowsFollowTheRunPartByPart() async throws {
        var harness = try SessionHarness(images: 5)
        defer { harness.folder.remove() }
        harness.part = 2
        _ = try await harness.run()
        var rows = try await harness.withStore { try await $0.items(drop: "eng") }
        #expect(rows.count == 5 && rows.allSatisfy { $0.status == .inReview }, "\(rows.map(\.status))")
        // The last three in plan order: the second part and the third (of one item) change, the first does not.
        let approved = harness.reviewFiles(.review).sorted().suffix(3)
        for file in approved { try harness.move("3_review/" + file, to: "4_approved/" + PathText.lastComponent(file)) }
        let report = try await harness.run()
        #expect(report.exitCode == 3)
        rows = try await harness.withStore { try await $0.items(drop: "eng") }
        let published = Set(rows.filter { $0.status == .published }.map(\.originalName))
        #expect(published == Set(report.plan.items.suffix(3).map(\.name)), "\(rows.map { ($0.originalName, $0.status) })")
        #expect(rows.filter { $0.status == .inReview }.count == 2)
    }

    /// A rerun that finds the rows as the drop's last comparison left them reads none of them; a row changed behind
    /// the runs' back, in the database itself, changes the rows' version (the database's own triggers): the next run
    /// reads the rows and brings that one back in line.
    @Test func aRowChangedInTheDatabaseIsBroughtBackInLineThoughTheLastComparisonFoundItInLine() async throws {
        var harness = try SessionHarness(images: 5)
        defer { harness.folder.remove() }
        harness.part = 2
        _ = try await harness.run()
        #expect(try await harness.withStore { try await $0.itemRowState(drop: "eng").last } == nil, "the first run wrote the rows")
        _ = try await harness.run()
        let kept = try #require(try await harness.withStore { try await $0.itemRowState(drop: "eng") })
        #expect(kept.last?.rowsVersion == kept.version && kept.last?.parts.count == 3, "\(kept)")

        let item = try #require(try await harness.withStore { try await $0.items(drop: "eng") }.first)
        try await harness.withStore { store in
            try await store.database.execute(
                "UPDATE items SET status = 'approved', description = 'by hand' WHERE id = ?", [.text(item.id.hex)])
        }
        #expect(try await harness.run().waitingItems.count == 5)
        let rows = try await harness.withStore { try await $0.items(drop: "eng") }
        let restored = try #require(rows.first { $0.id == item.id })
        #expect(restored.status == .inReview && restored.description == item.description, "\(restored)")
    }

    /// A stand-in stage that, on the last item's turn, looks at the ledger's item rows until `look` is satisfied
    /// (or 20 s have passed), and keeps what it found.
    struct RowWatcher: Stage {
        let name = StageName("watch-rows")
        let version = 1
        let lastItem: Int
        let look: @Sendable () async -> Bool
        let found = Locked<Bool?>(nil)

        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

        func run(_ context: NodeContext) async throws -> StageOutcome {
            if context.node.item == lastItem {
                var satisfied = await look()
                for _ in 0..<200 where !satisfied {
                    try await Task.sleep(for: .milliseconds(100))
                    satisfied = await look()
                }
                found.withLock { $0 = satisfied }
            }
            let crop = context.inputs[.crop]?.digest.hex ?? ""
            return .done(NodeOutput(digest: Digest.of("watch-rows:" + crop), summary: .object(["crop": .string(crop)])))
        }
    }

    /// The rows of a part of the items are brought in line as soon as the part is settled, while the run goes on
    /// with the next ones (not all after the run): with parts of two and one step at a time, the first four items
    /// are settled when the last one's turn comes, and their rows already name their crops (which only the
    /// projection of the run's states writes; the gate sets the status on its own).
    @Test func aPartsRowsAreBroughtInLineWhileTheRunGoesOn() async throws {
        var harness = try SessionHarness(images: 5)
        defer { harness.folder.remove() }
        harness.part = 2
        let reader = harness
        let watcher = RowWatcher(lastItem: 4) {
            let rows = (try? await reader.withStore { try await $0.items(drop: "eng") }) ?? []
            return rows.filter { $0.croppedName != nil }.count >= 4
        }
        let report = try await harness.run(concurrency: 1, adding: [(.crop, .item(watcher, reads: [.crop]))])
        #expect(report.count(StageName("watch-rows"), "ran") == 5)
        #expect(watcher.found.withLock { $0 } == true, "the first two parts' rows did not name their crops while the run went on")
        let rows = try await harness.withStore { try await $0.items(drop: "eng") }
        #expect(rows.count == 5 && rows.allSatisfy { $0.croppedName != nil && $0.status == .inReview }, "\(rows.map(\.status))")
    }

    @Test func changingOneFileRedoesOnlyThatItem() async throws {
        let harness = try SessionHarness(images: 3)
        defer { harness.folder.remove() }
        _ = try await harness.run()
        let replacement = try SyntheticImage(width: 160, height: 240, seed: 999).encoded(.png)
        try harness.folder.write(replacement, to: "src/ComfyUI_00002_.png")
        let report = try await harness.run()
        #expect(report.count(.ingest, "ran") == 1)
        #expect(report.count(.crop, "ran") == 1)
        #expect(report.count(.crop, "cached") == 2)
        #expect(report.plan.items.count == 3)
    }

    @Test func aCropWithIdenticalBytesDoesNotRerunAnythingDownstream() async throws {
        var harness = try SessionHarness(images: 3)
        defer { harness.folder.remove() }
        _ = try await harness.run()
        try harness.move("3_review/eng", to: "4_approved/eng")
        let published = try await harness.run()
        #expect(published.count(.publish, "ran") == 3)
        // min_height only flags small crops: the crop node's key changes, its bytes do not.
        harness.manifestText = harness.manifestText.replacingOccurrences(
            of: "strategy: top_fraction", with: "strategy: top_fraction\n  min_height: 10")
        let report = try await harness.run()
        #expect(report.count(.crop, "ran") == 3, "the crop parameters changed")
        #expect(report.count(.review, "cached") == 3, "same bytes: the approval still holds")
        #expect(report.count(.publish, "cached") == 3, "same bytes: nothing is published again")
        #expect(harness.folder.files(under: "library/outbox/eng").count == 6)
    }

    @Test func aDeletedCropIsRecreatedAndAnEditedOneIsReplaced() async throws {
        let harness = try SessionHarness(images: 2)
        defer { harness.folder.remove() }
        _ = try await harness.run()
        let crops = harness.folder.files(under: "library/2_cropped/eng")
        try FileManager.default.removeItem(atPath: harness.layout.absolute("2_cropped/eng/" + crops[0]))
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: harness.layout.absolute("2_cropped/eng/" + crops[1])))
        let report = try await harness.run()
        #expect(report.count(.crop, "ran") == 2, "a missing or changed artifact is a cache miss")
        #expect(harness.folder.files(under: "library/2_cropped/eng") == crops)
        for crop in crops {
            let data = try Data(contentsOf: URL(fileURLWithPath: harness.layout.absolute("2_cropped/eng/" + crop)))
            #expect(crop.contains(Digest.of(data).prefix(8)))
        }
    }

    /// A crop written again with the same bytes (a copy put back: a new stamp) is a hit once its bytes are checked,
    /// not redone; its record takes the new stamp, so the run after that needs no check.
    @Test func aCropWrittenAgainWithTheSameBytesIsCheckedNotRedone() async throws {
        let harness = try SessionHarness(images: 2)
        defer { harness.folder.remove() }
        let first = try await harness.run()
        let crop = try #require(harness.folder.files(under: "library/2_cropped/eng").first)
        let path = harness.layout.absolute("2_cropped/eng/" + crop)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let before = try #require(FileSystem.stamp(path))
        try FileManager.default.removeItem(atPath: path)
        usleep(10_000)
        try bytes.write(to: URL(fileURLWithPath: path))
        let after = try #require(FileSystem.stamp(path))
        try #require(after != before, "the copy put back has a stamp of its own")
        let report = try await harness.run()
        #expect(report.count(.crop, "ran") == 0 && report.count(.crop, "cached") == 2)
        let items = first.plan.items.map(\.id)
        let stamps = try await harness.withStore { store in
            try await store.cacheIndex(items: items).values.compactMap { step in
                step.artifactPath == "2_cropped/eng/" + crop ? step.artifactStamp : nil
            }
        }
        #expect(stamps.contains(after), "the record holds the file's new stamp: \(stamps)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }

    @Test func folderMovesAreDecisionsAndCanBeUndone() async throws {
        let harness = try SessionHarness(images: 2)
        defer { harness.folder.remove() }
        _ = try await harness.run()
        let names = harness.reviewFiles(.review)
        try harness.move("3_review/" + names[0], to: "rejected/" + PathText.lastComponent(names[0]))
        let rejected = try await harness.run()
        #expect(rejected.count(.review, "skipped") == 1)
        #expect(rejected.count(.publish, "skipped") == 1)
        // Moving it back to 3_review takes the decision back.
        try harness.move("rejected/" + PathText.lastComponent(names[0]), to: "3_review/eng/" + PathText.lastComponent(names[0]))
        let undone = try await harness.run()
        #expect(undone.count(.review, "waiting") == 2)
        let reviews = try await harness.withStore { try await $0.reviews(drop: "eng") }
        #expect(reviews.allSatisfy { $0.decision == .pending })
    }

    @Test func aDecisionMadeInTheDatabaseMovesTheFile() async throws {
        let harness = try SessionHarness(images: 1)
        defer { harness.folder.remove() }
        _ = try await harness.run()
        // The review page records decisions in the database; the next run brings the folders in step.
        try await harness.withStore { store in
            var review = try #require(try await store.reviews(drop: "eng").first)
            review.decision = .approved
            review.decidedBy = "page"
            try await store.saveReviews([review])
        }
        let report = try await harness.run()
        #expect(report.count(.publish, "ran") == 1)
        #expect(harness.reviewFiles(.review).isEmpty)
        #expect(harness.reviewFiles(.uploaded).count == 1)
    }

    @Test func aDryRunReportsWithoutWriting() async throws {
        let harness = try SessionHarness(images: 2)
        defer { harness.folder.remove() }
        let report = try await harness.run(dryRun: true)
        #expect(report.dryRun)
        #expect(report.count(.ingest, "planned") == 2)
        #expect(report.count(.crop, "planned") == 2)
        #expect(report.count(.review, "waiting") == 2)
        #expect(report.count(.publish, "blocked") == 2)
        #expect(report.count(.outbox, "planned") == 1)
        #expect(harness.folder.files(under: "library").isEmpty, "nothing at all is written")
    }

    @Test(arguments: [1, 2, 4])
    func resultsDoNotDependOnConcurrency(concurrency: Int) async throws {
        let harness = try SessionHarness(images: 6)
        defer { harness.folder.remove() }
        let report = try await harness.run(concurrency: concurrency)
        #expect(report.count(.crop, "ran") == 6)
        let crops = harness.folder.files(under: "library/2_cropped/eng")
        #expect(crops.count == 6)
        let again = try SessionHarness(images: 6)
        defer { again.folder.remove() }
        _ = try await again.run(concurrency: 1)
        #expect(again.folder.files(under: "library/2_cropped/eng") == crops, "crops are deterministic")
    }
}
