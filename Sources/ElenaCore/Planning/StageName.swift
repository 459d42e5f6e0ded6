/// The kinds of node in a drop's graph, in pipeline order.
public enum StageName: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// Before discovery: one (prompt, seed) of `generate:` queued on ComfyUI, its images downloaded into the source.
    case generate
    /// Drop-level: make sure the outbox folder exists (folder target).
    case outbox
    /// Drop-level: make sure the Fanvue vault folders exist (fanvue target).
    case vault
    /// Hash the source file, record the item once, link it into `1_raw/`, read ComfyUI lineage.
    case ingest
    /// Find faces and landmarks.
    case detect
    /// Decide the cut and write the metadata-free crop into `2_cropped/`.
    case crop
    /// The human gate: a crop passes only once approved.
    case review
    /// Hand an approved crop to the folder target.
    case publish
    /// Upload an approved crop to Fanvue (resumable multipart).
    case upload
    /// Drop-level: add the uploaded media to their vault folders, in batches.
    case attach
    /// Drop-level: the feed post of the drop's approved media.
    case post
    /// Drop-level: pay-per-view messages to the listed fans.
    case message

    /// Pipeline order, used for sorting output and scheduling (drop-level first).
    public var order: Int { StageName.allCases.firstIndex(of: self) ?? 0 }

    /// Whether the stage runs once per drop rather than once per item.
    public var isDropLevel: Bool { [.generate, .outbox, .vault, .attach, .post, .message].contains(self) }

    /// Orders by pipeline position.
    public static func < (lhs: StageName, rhs: StageName) -> Bool { lhs.order < rhs.order }
}

/// One node of the graph: a stage applied to one item (or to the whole drop).
public struct NodeID: Sendable, Hashable, Comparable {
    /// The stage.
    public var stage: StageName
    /// The item's index in the plan, or nil for a drop-level node.
    public var item: Int?

    /// Creates a node id.
    public init(_ stage: StageName, item: Int?) {
        self.stage = stage
        self.item = item
    }

    /// Drop-level nodes that feed items first, then by item, then by stage, then the drop-level nodes that collect
    /// items' results: the order in which work is started, so an item's chain finishes before many others begin.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        func rank(_ node: NodeID) -> Int {
            guard node.item == nil else { return 1 }
            return [.attach, .post, .message].contains(node.stage) ? 2 : 0
        }
        let (left, right) = (rank(lhs), rank(rhs))
        if left != right { return left < right }
        switch (lhs.item, rhs.item) {
        case (let a?, let b?): return a == b ? lhs.stage < rhs.stage : a < b
        default: return lhs.stage < rhs.stage
        }
    }
}
