/// Whether a stage runs once per item or once per drop.
package enum StageLevel: Sendable, Hashable {
    /// One node per item.
    case item
    /// One node for the whole drop.
    case drop
    /// One node per job of the drop's source plan, before discovery: what the jobs make are the drop's source
    /// files (generation's (prompt, seed)s). Planned by `Planner.sourcePlan`, not with the items.
    case job
}

/// How a drop-level node treats the item nodes it collects that did not finish.
package enum InputPolicy: Sendable, Hashable {
    /// Every input must finish; otherwise the node is blocked or skipped like its input.
    case all
    /// A collector: runs on the inputs that finished and ignores the others (attach what was uploaded).
    case available
    /// A collector that waits while any input still waits for a person (a post of the whole drop).
    case decided
}

/// How one stage takes part in a drop's graph: everything the planner and the runner need to know about it
/// except the work itself. Declared once per stage, in the pipeline's table.
package struct StageDeclaration: Sendable {
    /// The stage.
    package var name: StageName
    /// Per item or per drop.
    package var level: StageLevel
    /// An item stage: the same item's earlier stages it reads. A drop stage: the item stages whose nodes it
    /// collects, every item's.
    package var reads: [StageName]
    /// Drop-level stages it waits for (ignored when the manifest leaves them out).
    package var after: [StageName]
    /// For a drop stage that collects items: how items that did not finish are treated.
    package var policy: InputPolicy
    /// Whether a drop's manifest includes the stage (a publish target's stages, an optional post).
    package var included: @Sendable (Manifest) -> Bool

    /// Declares a stage.
    package init(
        _ name: StageName, level: StageLevel, reads: [StageName] = [], after: [StageName] = [],
        policy: InputPolicy = .all, when included: @escaping @Sendable (Manifest) -> Bool = { _ in true }
    ) {
        self.name = name
        self.level = level
        self.reads = reads
        self.after = after
        self.policy = policy
        self.included = included
    }
}

/// The pipeline's shape: its stages in pipeline order. Drop stages declared before the first item stage start
/// first (they feed the items); then each item's chain, item by item; then the drop stages that collect them.
package struct PipelineShape: Sendable {
    /// Every stage, in pipeline order.
    package var stages: [StageDeclaration]

    /// A shape.
    package init(_ stages: [StageDeclaration]) { self.stages = stages }

    /// The stages a manifest includes, in pipeline order.
    package func stages(for manifest: Manifest) -> [StageDeclaration] { stages.filter { $0.included(manifest) } }
}
