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
    /// The drop's near-duplicate groups with at least one picture still waiting for review, by file name (in the
    /// plan's order): what the run summary names, one line each. Groups larger than `NearDuplicates.largestGroup`
    /// are left out (`oversizedGroups` says them).
    package static func waitingGroups(_ report: RunReport) -> [[String]] {
        allWaitingGroups(report).filter { $0.count <= NearDuplicates.largestGroup }
    }

    /// The sizes of the groups too large to be copies of one picture, that still wait for review.
    package static func oversizedGroups(_ report: RunReport) -> [Int] {
        allWaitingGroups(report).map(\.count).filter { $0 > NearDuplicates.largestGroup }
    }

    static func allWaitingGroups(_ report: RunReport) -> [[String]] {
        guard let output = report.states[NodeID(.similar, item: nil)]?.output,
            let groups = output.value as? [[Digest]] ?? groups(in: output.summary)
        else { return [] }
        let index = Dictionary(report.plan.items.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        return groups.compactMap { group in
            let members = group.compactMap { index[$0] }.sorted()
            let waiting = members.contains { member in
                if case .waiting? = report.states[NodeID(.review, item: member)] { return true }
                return false
            }
            return waiting && members.count > 1 ? members.map { report.plan.items[$0].name } : nil
        }
    }
}
