/// The kinds of node in a drop's graph, in pipeline order.
public enum StageName: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// Drop-level: make sure the outbox folder exists (folder target).
    case outbox
    /// Hash the source file, record the item once, link it into `1_raw/`, read ComfyUI lineage.
    case ingest
    /// Find faces and landmarks.
    case detect
    /// Decide the cut and write the metadata-free crop into `2_cropped/`.
    case crop
    /// The human gate: a crop passes only once approved.
    case review
    /// Hand an approved crop to the publish target.
    case publish

    /// Pipeline order, used for sorting output and scheduling (drop-level first).
    public var order: Int { StageName.allCases.firstIndex(of: self) ?? 0 }

    /// Whether the stage runs once per drop rather than once per item.
    public var isDropLevel: Bool { self == .outbox }

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

    /// Drop-level nodes first, then by item, then by stage: the order in which work is started, so an item's
    /// chain finishes before many others begin (bounded memory).
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        switch (lhs.item, rhs.item) {
        case (nil, nil): return lhs.stage < rhs.stage
        case (nil, _): return true
        case (_, nil): return false
        case (let a?, let b?): return a == b ? lhs.stage < rhs.stage : a < b
        }
    }
}
