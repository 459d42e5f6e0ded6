/// The name of a kind of node in a drop's graph. A name, not an enumeration: which stages exist, in which order,
/// at which level and reading what is said once, by the pipeline's declaration (`PipelineShape`, built in
/// ElenaStages' `ElenaPipeline`), so a stage is added by declaring it there, in its own file.
package struct StageName: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The name as stored in the ledger's `stage` columns and mixed into cache keys.
    package let rawValue: String

    /// A stage name.
    package init(rawValue: String) { self.rawValue = rawValue }

    /// A stage name.
    package init(_ rawValue: String) { self.rawValue = rawValue }

    package var description: String { rawValue }

    /// Before discovery, one node per job: one (prompt, seed) of `generate:` queued on ComfyUI, its images
    /// downloaded into the source folder.
    package static let generate = StageName("generate")
    /// Drop-level: make sure the outbox folder exists (folder target).
    package static let outbox = StageName("outbox")
    /// Drop-level: make sure the Fanvue vault folders exist (fanvue target).
    package static let vault = StageName("vault")
    /// Hash the source file, record the item once, link it into `1_raw/`, read ComfyUI lineage.
    package static let ingest = StageName("ingest")
    /// Find faces and landmarks.
    package static let detect = StageName("detect")
    /// Decide the cut and write the metadata-free crop into `2_cropped/`.
    package static let crop = StageName("crop")
    /// The picture's and the crop's perceptual fingerprints (near-duplicates).
    package static let fingerprint = StageName("fingerprint")
    /// Drop-level: which items of the drop show one picture (near-duplicate groups).
    package static let similar = StageName("similar")
    /// The human gate: a crop passes only once approved.
    package static let review = StageName("review")
    /// Hand an approved crop to the folder target.
    package static let publish = StageName("publish")
    /// Upload an approved crop to Fanvue (resumable multipart).
    package static let upload = StageName("upload")
    /// Drop-level: add the uploaded media to their vault folders, in batches.
    package static let attach = StageName("attach")
    /// Drop-level: the feed post of the drop's approved media.
    package static let post = StageName("post")
    /// Drop-level: pay-per-view messages to the listed fans.
    package static let message = StageName("message")
}

/// What one node works on: the whole drop, one item, or one job of the drop's source plan (generation's
/// (prompt, seed)s, before discovery). One payload, so a node stays as small as an item index.
package enum NodeUnit: Sendable, Hashable {
    /// A drop-level node.
    case drop
    /// The item at this index of the plan's items.
    case item(Int)
    /// The job at this index of the plan's jobs.
    case job(Int)
}

/// One node of the graph: a stage applied to one item, one job, or the whole drop. The order in which nodes start
/// is the order the planner adds them (see `Planner.plan`), not a property of the node.
package struct NodeID: Sendable, Hashable, CustomStringConvertible {
    /// The stage.
    package var stage: StageName
    /// What it works on.
    package var unit: NodeUnit

    /// Creates a node id for an item (or, with nil, the drop).
    package init(_ stage: StageName, item: Int?) {
        self.stage = stage
        self.unit = item.map(NodeUnit.item) ?? .drop
    }

    /// Creates a node id for a job of the source plan.
    package init(_ stage: StageName, job: Int) {
        self.stage = stage
        self.unit = .job(job)
    }

    /// The item's index in the plan, for an item node.
    package var item: Int? {
        if case .item(let index) = unit { return index }
        return nil
    }

    /// The job's index in the plan, for a job node.
    package var job: Int? {
        if case .job(let index) = unit { return index }
        return nil
    }

    package var description: String {
        switch unit {
        case .drop: return stage.rawValue
        case .item(let index): return "\(stage.rawValue)[\(index)]"
        case .job(let index): return "\(stage.rawValue)#\(index)"
        }
    }
}
