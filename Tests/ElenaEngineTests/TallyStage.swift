import ElenaCore
import ElenaEngine
import Foundation

/// A stage that exists only in tests: it reads an item's crop and hands on a digest of it, counting its runs.
/// `AddedStageTests` adds it to the product's pipeline with one declaration to show a new stage needs no other
/// edit: it is planned, run, cached and drawn like the others.
struct TallyStage: Stage {
    let name = StageName("tally")
    let version = 1
    /// How many times `run` was called, across runs.
    let runs = Locked(0)

    func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .object(["counting": .string("crops")]) }

    func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let crop = context.inputs[.crop] else { throw StageError("tally: no crop input") }
        runs.withLock { $0 += 1 }
        return .done(NodeOutput(digest: Digest.of("tally:" + crop.digest.hex), summary: .object(["crop": .string(crop.digest.hex)])))
    }
}
