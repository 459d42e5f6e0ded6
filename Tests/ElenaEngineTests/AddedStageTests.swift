import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaTestKit
import ElenaTestSupport
import Testing

/// A new stage is one declaration plus its own file (`TallyStage`): the planner draws it, the runner runs it once
/// per item and caches it, a no-op rerun does not run it again, and nothing else in the pipeline changes.
@Suite struct AddedStageTests {
    @Test func aStageDeclaredOnceRunsCachesAndIsDrawn() async throws {
        let harness = try SessionHarness(images: 3)
        defer { harness.folder.remove() }
        let tally = TallyStage()
        let added: [(after: StageName, entry: Pipeline.Entry)] = [(.crop, .item(tally, reads: [.crop]))]

        let first = try await harness.run(adding: added)
        #expect(first.count(StageName("tally"), "ran") == 3)
        #expect(tally.runs.withLock { $0 } == 3)
        #expect(
            first.plan.stages == [.outbox, .ingest, .detect, .crop, StageName("tally"), .fingerprint, .review, .similar, .publish])
        #expect(first.count(.crop, "ran") == 3, "the stages around it run as before")
        #expect(first.waitingItems.count == 3)

        // In the graph `plan --graph` prints: a node per item, fed by that item's crop.
        let dot = first.plan.dot()
        for item in first.plan.items {
            let id = item.id.prefix(12)
            #expect(dot.contains("  \"tally:\(id)\" [label=\"tally \(item.name)\"];"))
            #expect(dot.contains("  \"crop:\(id)\" -> \"tally:\(id)\";"))
        }

        let second = try await harness.run(adding: added)
        #expect(second.count(StageName("tally"), "cached") == 3)
        #expect(tally.runs.withLock { $0 } == 3, "a rerun finds the tally in the run cache")

        // Without it, the rest of the pipeline is still up to date: its keys do not depend on a stage added beside it.
        let without = try await harness.run()
        #expect(without.count(.crop, "cached") == 3)
        #expect(without.plan.stages == [.outbox, .ingest, .detect, .crop, .fingerprint, .review, .similar, .publish])
    }
}
