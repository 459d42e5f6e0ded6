public import ElenaCore
public import ElenaEngine
import Foundation

/// `review`: the human gate. A crop passes once a person approved it, by moving its copy from `3_review/` to
/// `4_approved/` (or `rejected/`), or through the review page. The database holds the decision; the folders are
/// kept in step with it, and a file found in a folder other than the one last recorded is a new decision.
public struct ReviewGateStage: Stage {
    public let name = StageName.review
    public let version = 1
    public var isCacheable: Bool { false }
    public var stateWhenInputPending: NodeState { .waiting("a new crop will need review") }

    /// Review records of the drop by item.
    let reviews: [Digest: [ReviewRecord]]
    /// The folders as scanned at the start of the run.
    let index: ReviewFolderIndex

    /// Creates the gate with the state loaded for this run.
    public init(reviews: [ReviewRecord], index: ReviewFolderIndex) {
        self.reviews = Dictionary(grouping: reviews, by: \.itemID)
        self.index = index
    }

    public func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    func assess(_ context: NodeContext) throws -> ReviewState {
        guard let item = context.item, let crop = context.inputs[.crop] else {
            throw StageError("internal error: review without a crop (a bug)")
        }
        let layout = context.environment.layout
        return ReviewState.assess(
            itemID: item.id, cropDigest: crop.digest, drop: context.plan.drop,
            fileName: layout.reviewFileName(stem: item.stem, digest: crop.digest, format: item.crop.format),
            records: reviews[item.id] ?? [], index: index, layout: layout, now: context.environment.now())
    }

    func outcome(_ assessment: ReviewState, crop: NodeOutput) -> StageOutcome {
        switch assessment.decision {
        case .pending:
            return .waiting("awaiting review: move \(assessment.fileName) to 4_approved/ or rejected/")
        case .rejected:
            return .skipped("rejected in review")
        case .approved:
            let summary = JSONValue.object([
                "decision": .string("approved"),
                "file": .string(assessment.fileName),
                "copy": assessment.currentPath.map(JSONValue.string) ?? .null,
                "crop": .string(crop.artifactPath ?? ""),
            ])
            return .done(NodeOutput(digest: crop.digest, artifactPath: crop.artifactPath, summary: summary))
        }
    }

    public func resolve(_ context: NodeContext) -> StageOutcome? {
        guard let crop = context.inputs[.crop], let assessment = try? assess(context), assessment.isSettled else {
            return nil
        }
        return outcome(assessment, crop: crop)
    }

    public func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item, let crop = context.inputs[.crop], let source = crop.artifactPath else {
            throw StageError("internal error: review without a crop (a bug)")
        }
        let assessment = try assess(context)
        let environment = context.environment
        guard !environment.dryRun else { return outcome(assessment, crop: crop) }
        try await assessment.apply(
            cropPath: source, itemName: item.name, layout: environment.layout, store: environment.store,
            now: environment.now())
        return outcome(assessment, crop: crop)
    }
}
