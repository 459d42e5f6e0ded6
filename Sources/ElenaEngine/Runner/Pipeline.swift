package import ElenaCore

/// A pipeline: every stage's declaration (level, inputs, gate policy, when it is included) beside the instance that
/// runs it. The planner's edges, the node order, the runner's bookkeeping and the session's stage list all come
/// from this one list; see ElenaStages' `ElenaPipeline` for the product's.
package struct Pipeline: Sendable {
    /// One stage: how it connects, and what does its work.
    package struct Entry: Sendable {
        /// How it takes part in the graph.
        package var declaration: StageDeclaration
        /// What does the work.
        package var stage: any Stage

        /// An item stage reading the same item's `reads`, after the drop stages `after`.
        package static func item(
            _ stage: any Stage, reads: [StageName] = [], after: [StageName] = [],
            when included: @escaping @Sendable (Manifest) -> Bool = { _ in true }
        ) -> Entry {
            Entry(declaration: StageDeclaration(stage.name, level: .item, reads: reads, after: after, when: included), stage: stage)
        }

        /// A job stage: one node per job of the drop's source plan, before discovery (generation).
        package static func job(_ stage: any Stage, when included: @escaping @Sendable (Manifest) -> Bool) -> Entry {
            Entry(declaration: StageDeclaration(stage.name, level: .job, when: included), stage: stage)
        }

        /// A drop stage collecting every item's `collects` nodes under `policy`, after the drop stages `after`.
        package static func drop(
            _ stage: any Stage, collects: [StageName] = [], after: [StageName] = [], policy: InputPolicy = .all,
            when included: @escaping @Sendable (Manifest) -> Bool = { _ in true }
        ) -> Entry {
            Entry(
                declaration: StageDeclaration(
                    stage.name, level: .drop, reads: collects, after: after, policy: policy, when: included),
                stage: stage)
        }
    }

    /// The stages in pipeline order.
    package var entries: [Entry]

    /// A pipeline of `entries`, in pipeline order.
    package init(_ entries: [Entry]) { self.entries = entries }

    /// The declarations alone, for the planner.
    package var shape: PipelineShape { PipelineShape(entries.map(\.declaration)) }

    /// The pipeline with `entry` placed right after the stage `stage` (at the end when there is none).
    package func inserting(_ entry: Entry, after stage: StageName) -> Pipeline {
        var entries = entries
        let position = entries.firstIndex { $0.declaration.name == stage }.map { $0 + 1 } ?? entries.count
        entries.insert(entry, at: position)
        return Pipeline(entries)
    }
}
