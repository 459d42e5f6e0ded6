public import ElenaCore
public import ElenaEngine
import Foundation

/// Where review copies were found at the start of a run: file name → library-relative path, by folder.
public struct ReviewFolderIndex: Sendable {
    /// Each file found, by name.
    public var files: [String: (folder: ReviewFolder, path: String)]

    /// Scans the review folders of a library (recursively, so files moved flat or into sub-folders count).
    public static func scan(_ layout: LibraryLayout) -> ReviewFolderIndex {
        var files: [String: (ReviewFolder, String)] = [:]
        for folder in ReviewFolder.allCases {
            for relativePath in FileSystem.listFiles(layout.absolute(folder.rawValue)) {
                let name = PathText.lastComponent(relativePath)
                // A file present in two folders at once: the decided one wins over 3_review.
                if let existing = files[name], existing.0 != .review { continue }
                files[name] = (folder, folder.rawValue + "/" + relativePath)
            }
        }
        return ReviewFolderIndex(files: files)
    }

    /// Creates an index.
    public init(files: [String: (folder: ReviewFolder, path: String)]) { self.files = files }
}

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

    /// What the gate sees for one item, and what it would change to bring folders and database in step.
    struct Assessment {
        var decision: ReviewDecision
        var fileName: String
        var location: (folder: ReviewFolder, path: String)?
        var record: ReviewRecord?
        /// The record to save (a new decision or a first sighting), if any.
        var save: ReviewRecord?
        /// A file to create or move so the folder matches the decision.
        var place: (from: String?, to: String)?
        /// Copies of superseded crop versions to delete.
        var stale: [String]
        var isSettled: Bool { save == nil && place == nil && stale.isEmpty }
    }

    func assess(_ context: NodeContext) throws -> Assessment {
        guard let item = context.item, let crop = context.inputs[.crop] else {
            throw StageError("internal error: review without a crop (a bug)")
        }
        let layout = context.environment.layout
        let drop = context.plan.drop
        let fileName = layout.reviewFileName(stem: item.stem, digest: crop.digest, format: item.crop.format)
        let records = reviews[item.id] ?? []
        let record = records.first { $0.cropDigest == crop.digest }
        let location = index.files[fileName]
        let now = context.environment.now()
        var assessment = Assessment(
            decision: record?.decision ?? .pending, fileName: fileName, location: location, record: record, stale: [])

        func folder(for decision: ReviewDecision, current: ReviewFolder?) -> ReviewFolder {
            switch decision {
            case .pending: return .review
            case .rejected: return .rejected
            case .approved: return current == .uploaded || record?.folder == .uploaded ? .uploaded : .approved
            }
        }
        func target(_ folder: ReviewFolder) -> String { layout.folder(folder, drop: drop) + "/" + fileName }

        if let location {
            if record == nil || record?.folder != location.folder {
                // A person moved the file (or this is the first time it is seen): the folder is the decision.
                let decision = location.folder.decision
                assessment.decision = decision
                let decided = decision != .pending
                assessment.save = ReviewRecord(
                    itemID: item.id, cropDigest: crop.digest, drop: drop, decision: decision, fileName: fileName,
                    folder: location.folder, decidedBy: decided ? "folder" : record?.decidedBy,
                    decidedAt: decided ? now : record?.decidedAt)
            } else if let record, record.decision != location.folder.decision {
                // Decided elsewhere (the review page): move the file to match.
                let destination = folder(for: record.decision, current: location.folder)
                assessment.place = (location.path, target(destination))
                var moved = record
                moved.folder = destination
                assessment.save = moved
            }
        } else {
            let destination = folder(for: assessment.decision, current: nil)
            assessment.place = (nil, target(destination))
            var placed =
                record
                ?? ReviewRecord(
                    itemID: item.id, cropDigest: crop.digest, drop: drop, decision: .pending, fileName: fileName,
                    folder: .review, decidedBy: nil, decidedAt: nil)
            placed.folder = destination
            if placed != record { assessment.save = placed }
        }
        for old in records where old.cropDigest != crop.digest {
            if let found = index.files[old.fileName], found.folder != .uploaded { assessment.stale.append(found.path) }
        }
        return assessment
    }

    func outcome(_ assessment: Assessment, crop: NodeOutput) -> StageOutcome {
        switch assessment.decision {
        case .pending:
            return .waiting("awaiting review: move \(assessment.fileName) to 4_approved/ or rejected/")
        case .rejected:
            return .skipped("rejected in review")
        case .approved:
            let summary = JSONValue.object([
                "decision": .string("approved"),
                "file": .string(assessment.fileName),
                "copy": assessment.place.map { .string($0.to) } ?? (assessment.location.map { .string($0.path) } ?? .null),
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
        let layout = environment.layout
        for path in assessment.stale { try FileSystem.remove(layout.absolute(path)) }
        if let place = assessment.place {
            if let from = place.from {
                try FileSystem.move(layout.absolute(from), to: layout.absolute(place.to))
            } else {
                try FileSystem.copy(layout.absolute(source), to: layout.absolute(place.to))
            }
        }
        let now = environment.now()
        var events: [EventRecord] = []
        if let save = assessment.save {
            try await environment.store.saveReviews([save])
            if save.decision != assessment.record?.decision || assessment.record == nil {
                events.append(
                    EventRecord(
                        kind: "review.\(save.decision.rawValue)", drop: context.plan.drop, itemID: item.id, stage: .review,
                        message: "\(item.name): \(save.decision.rawValue) (\(save.decidedBy ?? "queued")) as \(save.fileName)",
                        data: .object(["crop": .string(crop.digest.hex), "folder": .string(save.folder.rawValue)]), at: now))
            }
        }
        if !assessment.stale.isEmpty {
            events.append(
                EventRecord(
                    kind: "review.superseded", drop: context.plan.drop, itemID: item.id, stage: .review,
                    message: "\(item.name): a new crop replaced \(assessment.stale.count) older review cop\(assessment.stale.count == 1 ? "y" : "ies")",
                    data: .array(assessment.stale.map(JSONValue.string)), at: now))
        }
        if !events.isEmpty { try await environment.store.append(events) }
        let status: ItemStatus =
            switch assessment.decision {
            case .pending: .inReview
            case .rejected: .rejected
            case .approved: assessment.record?.folder == .uploaded ? .published : .approved
            }
        if assessment.save != nil {
            try await environment.store.updateItems([(item.id, ItemUpdate(status: status, error: .some(nil)))], at: now)
        }
        return outcome(assessment, crop: crop)
    }
}
