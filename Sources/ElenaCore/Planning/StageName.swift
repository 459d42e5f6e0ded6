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

    /// Before discovery: one (prompt, seed) of `generate:` queued on ComfyUI, its images downloaded into the source.
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

/// One node of the graph: a stage applied to one item (or to the whole drop). The order in which nodes start is
/// the order the planner adds them (see `Planner.plan`), not a property of the node.
package struct NodeID: Sendable, Hashable, CustomStringConvertible {
    /// The stage.
    package var stage: StageName
    /// The item's index in the plan, or nil for a drop-level node.
    package var item: Int?

    /// Creates a node id.
    package init(_ stage: StageName, item: Int?) {
        self.stage = stage
        self.item = item
    }

    package var description: String { item.map { "\(stage.rawValue)[\($0)]" } ?? stage.rawValue }
}
