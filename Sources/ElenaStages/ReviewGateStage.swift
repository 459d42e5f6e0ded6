package import ElenaCore
package import ElenaEngine
import Foundation

/// `review`: the human gate. A crop passes once a person approved it, by moving its copy from `3_review/` to
/// `4_approved/` (or `rejected/`), or through the review page. The database holds the decision; the folders are
/// kept in step with it, and a file found in a folder other than the one last recorded is a new decision.
package struct ReviewGateStage: Stage {
    package let name = StageName.review
    package let version = 1
    package var isCacheable: Bool { false }
    package var stateWhenInputPending: NodeState { .waiting("a new crop will need review") }

    /// Review records of the drop, sorted by item (the order within an item's run is not kept: at most one record
    /// per crop); an item's run is found by binary search: one array, with neither an array per item nor a table
    /// of ranges (a drop of 100,000 items waiting for review has 100,000 records; the table alone took 8 MB).
    private let reviews: [ReviewRecord]
    /// The records' item ids, in the same order: what the search compares (reading a record to compare its id
    /// copied the whole record, strings and all, 17 times per look-up in a drop of 100,000).
    private let reviewItems: [Digest]
    /// The folders as scanned at the start of the run.
    let index: ReviewFolderIndex
    /// What the gate changed this run, one sentence each (decisions recorded, copies restored), in plan order.
    package let notes = Locked<[(item: Int, text: String)]>([])
    /// The ledger the decisions are recorded in (set by the pipeline: `ElenaPipeline.pipeline(services:gate:)`).
    package var services = DropServices.planningOnly

    /// Creates the gate with the state loaded for this run (none: a gate for the pipeline's shape alone).
    package init(reviews records: consuming [ReviewRecord] = [], index: ReviewFolderIndex = ReviewFolderIndex()) {
        records.sort { $0.itemID < $1.itemID }
        self.reviewItems = records.map(\.itemID)
        self.reviews = records
        self.index = index
    }

    /// The item's review records in this drop.
    package func reviews(of item: Digest) -> ArraySlice<ReviewRecord> {
        // The first record whose item is not before `item`, then the run of records of `item` from there.
        var low = 0
        var high = reviewItems.count
        while low < high {
            let middle = (low + high) / 2
            if reviewItems[middle] < item { low = middle + 1 } else { high = middle }
        }
        var end = low
        while end < reviewItems.count, reviewItems[end] == item { end += 1 }
        return reviews[low..<end]
    }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    func assess(_ context: NodeContext) throws -> ReviewState {
        guard let item = context.item, let crop = context.inputs[.crop] else {
            throw StageError("internal error: review without a crop (a bug)")
        }
        let layout = context.environment.layout
        let records = reviews(of: item.id)
        // A crop already queued keeps the name its copy was given, even when its source file was renamed since
        // (the same bytes under a new name would otherwise get a second copy beside the first).
        let fileName =
            records.first { $0.cropDigest == crop.digest }?.fileName
            ?? layout.reviewFileName(stem: item.stem, digest: crop.digest, format: item.crop.format)
        return ReviewState.assess(
            itemID: item.id, cropDigest: crop.digest, drop: context.plan.drop, fileName: fileName, records: records,
            index: index, layout: layout, now: context.environment.now())
    }

    func outcome(_ assessment: ReviewState, crop: NodeOutput) -> StageOutcome {
        switch assessment.decision {
        case .pending:
            // One sentence for every crop (a drop of 100,000 waiting items held 100,000 copies of it, each with the
            // file's name, which the run's summary gives from the plan).
            return .waiting(Self.awaiting)
        case .rejected:
            return .skipped("rejected in review")
        case .approved:
            let summary = JSONValue.object([
                "decision": .string("approved"),
                "file": .string(assessment.fileName),
                "copy": assessment.currentPath.map(JSONValue.string) ?? .null,
                "crop": .string(crop.artifactPath ?? ""),
            ])
            return .done(
                NodeOutput(
                    digest: crop.digest, artifactPath: crop.artifactPath, summary: summary,
                    value: ApprovedCrop(copy: assessment.currentPath)))
        }
    }

    /// What a crop still to be decided waits for.
    static let awaiting = "awaiting review: move its copy from 3_review/ to 4_approved/ or rejected/"

    package func resolve(_ context: NodeContext) -> StageOutcome? {
        guard let crop = context.inputs[.crop], let assessment = try? assess(context), assessment.isSettled else {
            return nil
        }
        return outcome(assessment, crop: crop)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item, let crop = context.inputs[.crop], let source = crop.artifactPath else {
            throw StageError("internal error: review without a crop (a bug)")
        }
        let assessment = try assess(context)
        let environment = context.environment
        guard !environment.dryRun else { return outcome(assessment, crop: crop) }
        try await assessment.apply(
            cropPath: source, itemName: item.name, layout: environment.layout, store: try services.store,
            now: environment.now())
        if let note = Self.note(assessment, itemName: item.name), let index = context.node.item {
            notes.withLock { $0.append((index, note)) }
        }
        return outcome(assessment, crop: crop)
    }

    /// What applying an assessment changed that a person should hear about; nil for a crop seen the first time.
    static func note(_ assessment: ReviewState, itemName: String) -> String? {
        let file = assessment.fileName
        if let save = assessment.save, save.decision != (assessment.record?.decision ?? .pending) {
            switch save.decision {
            case .approved: return "\(file): approved (found in \(save.folder.rawValue)/)"
            case .rejected: return "\(file): rejected (found in \(save.folder.rawValue)/)"
            case .pending: return "\(file): decision taken back (found in \(save.folder.rawValue)/)"
            }
        }
        if let place = assessment.place, place.from == nil, let record = assessment.record {
            if !assessment.stale.isEmpty {
                return "\(file): an earlier crop of \(itemName) is back, with its decision (\(record.decision.rawValue))"
            }
            return "\(file): its review copy was missing; put back in \(PathText.directory(of: place.to))/ "
                + "(to drop an image, move it to rejected/ instead of deleting it)"
        }
        if let place = assessment.place, let from = place.from, from != place.to {
            return "\(file): moved to \(PathText.directory(of: place.to))/ to match its decision (\(assessment.decision.rawValue))"
        }
        return nil
    }
}

/// What the gate hands on for an approved crop: where its review copy is now (library-relative; nil when it is
/// gone). The gate decides afresh every run, so this is never read back from a record.
package struct ApprovedCrop: Sendable, Hashable {
    /// Where the copy is now.
    package var copy: String?
}
