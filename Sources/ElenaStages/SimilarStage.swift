package import ElenaCore
package import ElenaEngine
import Foundation

/// `similar` (drop level): which items of the drop show one picture — neighbouring seeds, a re-queued prompt, an
/// upscaled or re-saved copy — in groups, from every item's fingerprints. Cached by the engine like any collector:
/// the comparison (every pair) runs again only when a fingerprint changed. The run summary names each group that
/// still waits for review, and the review page shows them together.
package struct SimilarStage: Stage {
    package let name = StageName.similar
    package let version = 1

    /// Creates the stage.
    package init() {}

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        .object([
            "structure": .string(NearDuplicates.kind.rawValue), "threshold": .int(NearDuplicates.threshold),
            "colour_limit": .int(NearDuplicates.colourLimit),
        ])
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        let prints = try context.collected(.fingerprint, as: ItemFingerprints.self)
        let groups = NearDuplicates.groups(prints.map { (id: context.plan.items[$0.item].id, prints: $0.value) })
        let summary = JSONValue.object(["groups": .array(groups.map { .array($0.map { .string($0.hex) }) })])
        return .done(NodeOutput(digest: Digest.of(JSONText(summary).text), summary: summary, value: groups))
    }

    package func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? {
        guard let groups = Self.groups(in: output.summary) else { throw StageError("the recorded groups do not read") }
        return groups
    }

    /// The groups a recorded summary holds, by item id.
    package static func groups(in summary: JSONText) -> [[Digest]]? {
        guard let list = summary.value["groups"]?.arrayValue else { return nil }
        var groups: [[Digest]] = []
        for entry in list {
            guard let members = entry.arrayValue?.compactMap({ $0.stringValue.flatMap { Digest(hex: $0) } }) else { return nil }
            groups.append(members)
        }
        return groups
    }
}

extension SimilarStage {
    /// The drop's near-duplicate groups with at least one picture still waiting for review.
    package struct WaitingGroups: Sendable, Equatable {
        /// By file name, in the plan's order: what the run summary names, one line each.
        package var shown: [[String]] = []
        /// The sizes of the groups larger than `NearDuplicates.largestGroup`: too many to be copies of one picture,
        /// said once each.
        package var oversized: [Int] = []
    }

    /// The groups of the run's similar step that still wait for review (read once for the whole summary).
    package static func waitingGroups(_ report: RunReport) -> WaitingGroups {
        guard let output = report.states[NodeID(.similar, item: nil)]?.output,
            let groups = output.value as? [[Digest]] ?? groups(in: output.summary)
        else { return WaitingGroups() }
        let index = Dictionary(report.plan.items.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var result = WaitingGroups()
        for group in groups {
            let members = group.compactMap { index[$0] }.sorted()
            guard members.count > 1,
                members.contains(where: { member in
                    if case .waiting? = report.states[NodeID(.review, item: member)] { return true }
                    return false
                })
            else { continue }
            if members.count > NearDuplicates.largestGroup {
                result.oversized.append(members.count)
            } else {
                result.shown.append(members.map { report.plan.items[$0].name })
            }
        }
        return result
    }
}
