public import ElenaCore

/// What a run (or a dry run) did to every node of a plan.
public struct RunReport: Sendable {
    /// The plan that was run.
    public var plan: DropPlan
    /// Every node's final state.
    public var states: [NodeID: NodeState]
    /// Whether nothing was changed (a dry run).
    public var dryRun: Bool
    /// Files that could not be read during discovery.
    public var unreadable: [(path: String, reason: String)]

    /// Creates a report.
    public init(plan: DropPlan, states: [NodeID: NodeState], dryRun: Bool, unreadable: [(path: String, reason: String)] = []) {
        self.plan = plan
        self.states = states
        self.dryRun = dryRun
        self.unreadable = unreadable
    }

    /// Count of nodes per stage and state word, stages in pipeline order.
    public var counts: [(stage: StageName, counts: [(String, Int)])] {
        var table: [StageName: [String: Int]] = [:]
        for (node, state) in states { table[node.stage, default: [:]][state.word, default: 0] += 1 }
        let words = ["ran", "cached", "planned", "waiting", "blocked", "skipped", "failed"]
        return StageName.allCases.compactMap { stage in
            guard let row = table[stage] else { return nil }
            return (stage, words.compactMap { word in row[word].map { (word, $0) } })
        }
    }

    /// Failed nodes with their messages, in plan order.
    public var failures: [(node: NodeID, message: String)] {
        plan.order.compactMap { node in
            if case .failed(let message)? = states[node] { return (node, message) }
            return nil
        }
    }

    /// Items whose review gate waits for a decision.
    public var waitingItems: [PlannedItem] {
        plan.items.indices.compactMap { index in
            if case .waiting? = states[NodeID(.review, item: index)] { return plan.items[index] }
            return nil
        }
    }

    /// Number of failed nodes plus unreadable files.
    public var failureCount: Int { failures.count + unreadable.count }

    /// 0 done, 1 some items failed, 3 stopped at the review gate with nothing failed.
    public var exitCode: Int32 {
        if failureCount > 0 { return 1 }
        if !waitingItems.isEmpty { return 3 }
        return 0
    }
}
