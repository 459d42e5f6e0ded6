import ElenaCore
import ElenaEngine
import ElenaTestKit
import Foundation
import Testing

/// A whole folder drop on the in-memory ledger: no database, the same outcome a SQLite run has (review gate,
/// publishing after approval, a no-op rerun). Stage and session tests can use it when the ledger is not their subject.
@Suite struct MemoryLedgerSessionTests {
    @Test func aFolderDropRunsReviewsPublishesAndRerunsOnTheInMemoryLedger() async throws {
        var harness = try SessionHarness(images: 3)
        defer { harness.folder.remove() }
        let ledger = MemoryLedger()
        harness.memory = ledger

        let first = try await harness.run()
        #expect(first.exitCode == 3)
        #expect(first.count(.crop, "ran") == 3)
        #expect(first.waitingItems.count == 3)
        #expect(!FileManager.default.fileExists(atPath: harness.layout.defaultDatabase), "no database was made")

        for file in harness.reviewFiles(.review) {
            try harness.move("3_review/" + file, to: "4_approved/" + PathText.lastComponent(file))
        }
        let second = try await harness.run()
        #expect(second.exitCode == 0, "\(second.failures)")
        #expect(second.count(.publish, "ran") == 3)
        #expect(harness.folder.files(under: "library/outbox/eng").filter { $0.hasSuffix(".jpg") }.count == 3)
        let items = try await ledger.items(drop: "eng")
        #expect(items.count == 3 && items.allSatisfy { $0.status == .published }, "\(items.map(\.status))")
        #expect(try await ledger.events(drop: "eng", limit: 100).contains { $0.kind == "run.finished" })

        let third = try await harness.run()
        #expect(third.exitCode == 0)
        #expect(third.count(.crop, "cached") == 3 && third.count(.publish, "cached") == 3, "a rerun does nothing")
    }

    /// Whether an item waiting for review looks like a picture already approved or published is worked out against
    /// every such picture of the library (100,000 rows in a library of that size). They are read only when an item
    /// waits, something is decided, and either has changed since the drop's last look.
    @Test func theLibrarysDecidedPicturesAreReadOnlyWhenTheLastLookNoLongerHolds() async throws {
        var harness = try SessionHarness(images: 3)
        defer { harness.folder.remove() }
        let ledger = MemoryLedger()
        harness.memory = ledger
        #expect(try await harness.run().waitingItems.count == 3)
        #expect(ledger.decidedReads == 0, "three items wait, but nothing is decided anywhere: nothing was read")
        let files = harness.reviewFiles(.review).sorted()
        try harness.move("3_review/" + files[0], to: "4_approved/" + PathText.lastComponent(files[0]))
        #expect(try await harness.run().waitingItems.count == 2)
        #expect(ledger.decidedReads == 1, "one was approved and published: the two waiting are compared with it")
        #expect(try await harness.run().waitingItems.count == 2)
        #expect(try await harness.run().waitingItems.count == 2)
        #expect(ledger.decidedReads == 1, "nothing changed in two runs: the last look holds")
        try harness.move("3_review/" + files[1], to: "4_approved/" + PathText.lastComponent(files[1]))
        #expect(try await harness.run().waitingItems.count == 1)
        #expect(ledger.decidedReads == 2, "another was published: the one waiting is compared again")
        try harness.move("3_review/" + files[2], to: "4_approved/" + PathText.lastComponent(files[2]))
        #expect(try await harness.run().exitCode == 0)
        #expect(try await harness.run().exitCode == 0)
        #expect(ledger.decidedReads == 2, "nothing waited in the two runs since: nothing was read")
        #expect(try await ledger.items(drop: "eng").allSatisfy { $0.status == .published })
    }

    /// A run brings its items' rows in line with what it projects onto them. While the rows are as the drop's last
    /// comparison found them (their version is the same) and a part projects what it did then, the part's rows are
    /// not read: a no-op rerun reads none. A row changed by anyone, or a part that projects something else, is read
    /// and brought in line.
    @Test func aRerunReadsNoItemRowWhileTheRowsAreAsTheLastComparisonFoundThem() async throws {
        var harness = try SessionHarness(images: 5)
        defer { harness.folder.remove() }
        harness.part = 2
        let ledger = MemoryLedger()
        harness.memory = ledger
        // The first run writes the rows; the second finds them in line, and keeps that.
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(try await harness.run().waitingItems.count == 5)
        let read = ledger.rowFieldReads
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(ledger.rowFieldReads == read, "nothing changed: no row was read")

        // A row changed by hand: every part is read again, and the row brought back in line.
        let rows = try await ledger.items(drop: "eng")
        try await ledger.updateItems([(rows[0].id, ItemUpdate(status: .approved, vault: "elsewhere"))], at: Date())
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(ledger.rowFieldReads == read + 5, "a row changed: every part was read")
        let restored = try #require(try await ledger.items(drop: "eng").first { $0.id == rows[0].id })
        #expect(restored.status == .inReview && restored.vault == "v", "\(restored)")
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(ledger.rowFieldReads == read + 10, "the last run changed a row: what it found is not kept")
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(ledger.rowFieldReads == read + 10)

        // A new price changes what every part projects: each is read, and each row takes it.
        harness.manifestText = harness.manifestText.replacingOccurrences(of: "price: 5", with: "price: 7")
        #expect(try await harness.run().waitingItems.count == 5)
        #expect(ledger.rowFieldReads == read + 15)
        #expect(try await ledger.items(drop: "eng").map(\.priceCents) == Array(repeating: 700, count: 5))
    }
}
