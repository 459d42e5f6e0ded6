package import ElenaCore

/// Every node's final state, looked up by node: kept in the graph's node order and found by the graph's
/// arithmetic, so a drop of 100,000 items (600,000 nodes) is not copied into a second table keyed by node.
package struct NodeStates: Sendable, Sequence {
    private let graph: PlanGraph
    private let slots: [NodeState?]

    /// The states `slots` holds, in the order of `graph.nodes` (nil: the node was not settled).
    package init(graph: PlanGraph, slots: [NodeState?]) {
        self.graph = graph
        self.slots = slots
    }

    /// A node's state (nil when it is not in the graph or was not settled).
    package subscript(node: NodeID) -> NodeState? {
        guard let index = graph.index(of: node), index < slots.count else { return nil }
        return slots[index]
    }

    /// Every settled state (read as it is walked, not copied).
    package var values: some Sequence<NodeState> { slots.lazy.compactMap { $0 } }

    /// The node at `index` in the graph these states are of.
    package func node(at index: Int) -> NodeID { graph.node(at: index) }

    /// Calls `body` with each settled state and its node's index in the graph, reading the states in place.
    package func forEachSettled(_ body: (_ index: Int, _ state: borrowing NodeState) -> Void) {
        for index in slots.indices {
            guard case .some = slots[index] else { continue }
            body(index, slots[index]!)
        }
    }

    package func makeIterator() -> some IteratorProtocol<(key: NodeID, value: NodeState)> {
        zip(graph.nodes, slots).lazy.compactMap { node, state in state.map { (key: node, value: $0) } }.makeIterator()
    }
}

/// Where nodes' states are looked up: a whole run's (`NodeStates`) or some items' (`SettledItems`).
package protocol NodeStateLookup: Sendable {
    /// A node's state (nil when it is not there or was not settled).
    subscript(node: NodeID) -> NodeState? { get }
}

extension NodeStates: NodeStateLookup {}

/// The states of the nodes of some items of a run, once every one of them is settled: what the runner hands on a
/// part of the items at a time, while it settles the rest.
package struct SettledItems: NodeStateLookup {
    /// The items (plan indices).
    package let items: Range<Int>
    private let graph: PlanGraph
    private let first: Int
    private let slots: [NodeState?]

    /// The states of `items`' nodes, copied from the run's `states` (indexed like the graph's nodes).
    package init(items: Range<Int>, graph: PlanGraph, states: [NodeState?]) {
        let nodes = graph.nodeIndices(ofUnits: items)
        self.items = items
        self.graph = graph
        self.first = nodes.lowerBound
        self.slots = Array(states[nodes])
    }

    package subscript(node: NodeID) -> NodeState? {
        guard let index = graph.index(of: node), index >= first, index - first < slots.count else { return nil }
        return slots[index - first]
    }
}

/// What a run (or a dry run) did to every node of a plan.
package struct RunReport: Sendable {
    /// The plan that was run.
    package var plan: DropPlan
    /// Every node's final state.
    package let states: NodeStates
    /// Failed nodes with their messages, in plan order (read once: a drop of 100,000 items has 500,000 nodes).
    package private(set) var failures: [(node: NodeID, message: String)] = []
    /// Items a gate holds for a person's decision.
    package var waitingItems: LazyMapCollection<[Int], PlannedItem> { waitingIndices.lazy.map { plan.items[$0] } }
    /// Their indices in the plan, in plan order (the items themselves are not copied: a drop of 100,000 waits whole).
    private var waitingIndices: [Int] = []
    /// How many nodes did their work in this run (not cached, not planned).
    package private(set) var ranCount = 0
    /// Whether nothing was changed (a dry run).
    package var dryRun: Bool
    /// Files that could not be read during discovery.
    package var unreadable: [(path: String, reason: String)]
    /// What the `generate:` section did (nil when the manifest has none).
    package var generation: GenerationSummary?
    /// Changes the run made that no node state shows (a decision recorded, a copy restored), one sentence each.
    package var notes: [String] = []
    /// What a person should know before deciding (a picture that looks like one already approved), one sentence
    /// each.
    package var warnings: [String] = []
    /// Files the run saw and deliberately left alone, with why, one sentence each.
    package var ignored: [String] = []
    /// Source files whose bytes belong to another drop (reviewed and published there, not in this one), with that
    /// drop and the item's status there.
    package var inOtherDrops: [(path: String, drop: String, status: String)] = []
    /// Why the run stopped starting work before the end (a full or read-only disk, the ledger database gone),
    /// one sentence; nil when it went through. Nodes it never started are blocked with `.notStarted`.
    package var stopped: String?
    /// Nodes that failed with an error that stops the run (the disk full, the ledger gone): their own message
    /// repeats `stopped` for a folder or a moment, so the summary says it once.
    package var stoppedBy: Set<NodeID> = []

    /// Creates a report.
    package init(plan: DropPlan, states: NodeStates, dryRun: Bool, unreadable: [(path: String, reason: String)] = []) {
        self.plan = plan
        self.states = states
        self.dryRun = dryRun
        self.unreadable = unreadable
        var failed: [NodeID: String] = [:]
        var waiting = [Bool](repeating: false, count: plan.items.count)
        var ran = 0
        // By index: a run of 100,000 items settles 600,000 nodes, and making each one's NodeID and copying its
        // state showed in a no-op rerun.
        states.forEachSettled { index, state in
            switch state {
            case .failed(let message): failed[states.node(at: index)] = message
            case .waiting: if let item = states.node(at: index).item, waiting.indices.contains(item) { waiting[item] = true }
            case .ran: ran += 1
            default: break
            }
        }
        ranCount = ran
        if !failed.isEmpty { failures = plan.order.compactMap { node in failed[node].map { (node, $0) } } }
        waitingIndices = waiting.indices.filter { waiting[$0] }
    }

    /// Count of nodes per stage and state word, stages in pipeline order.
    package var counts: [(stage: StageName, counts: [(String, Int)])] { counts { $1.word } }

    /// Count of nodes per stage and the word `naming` gives each; the state words in their usual order, any
    /// other word first.
    package func counts(naming: (NodeID, NodeState) -> String) -> [(stage: StageName, counts: [(String, Int)])] {
        var table: [StageName: [String: Int]] = [:]
        for (node, state) in states { table[node.stage, default: [:]][naming(node, state), default: 0] += 1 }
        let words = ["ran", "cached", "planned", "waiting", "blocked", "skipped", "failed"]
        return plan.stages.compactMap { stage in
            guard let row = table[stage] else { return nil }
            let others = row.keys.filter { !words.contains($0) }.sorted()
            return (stage, (others + words).compactMap { word in row[word].map { (word, $0) } })
        }
    }

    /// How many nodes of a stage ended in a state word (`ran`, `cached`, `waiting`, …).
    package func count(_ stage: StageName, _ word: String) -> Int {
        states.filter { $0.key.stage == stage && $0.value.word == word }.count
    }

    /// Number of failed nodes plus unreadable files plus failed generations.
    package var failureCount: Int { failures.count + unreadable.count + (generation?.failureCount ?? 0) }

    /// 0 done, 1 some items failed, 3 stopped at the review gate with nothing failed.
    package var exitCode: Int32 {
        if failureCount > 0 || stopped != nil { return 1 }
        if !waitingItems.isEmpty { return 3 }
        return 0
    }
}

/// What the generation phase of a run did.
package struct GenerationSummary: Sendable, Hashable {
    /// One (prompt, seed) that did not give images.
    package struct Failure: Sendable, Hashable {
        /// `prompt 2, seed 1001`.
        package var label: String
        /// The prompt text.
        package var prompt: String
        /// What went wrong.
        package var message: String

        /// Creates a failure.
        package init(label: String, prompt: String, message: String) {
            self.label = label
            self.prompt = prompt
            self.message = message
        }
    }

    /// (prompt, seed) pairs in the manifest.
    package var jobs: Int
    /// Pairs whose images were already there (nothing queued).
    package var cached: Int
    /// Pairs generated by this run.
    package var generated: Int
    /// Pairs a dry run would queue.
    package var planned: Int
    /// Images downloaded into the source folder by this run (names relative to it).
    package var images: [String]
    /// Pairs that failed (validation, runtime error, timeout).
    package var failures: [Failure]
    /// A failure of the whole phase (server down, missing model), if any: nothing was queued.
    package var error: String?
    /// Dry runs: pairs still to queue whose last attempt failed, with that error.
    package var previousFailures: [Failure] = []
    /// What `generate:` set for each image of the pairs made (in this run or before), by the image's path in the
    /// source folder: their lineage.
    package var facts: [String: GeneratedFacts] = [:]
    /// Every pair in the manifest's order, with the images it made (none yet, when it is still to make): the
    /// generate nodes `plan --graph` draws.
    package var pairs: [Pair] = []

    /// One (prompt, seed) and the images it made.
    package struct Pair: Sendable, Hashable {
        /// `prompt 2, seed 1001`.
        package var label: String
        /// Paths relative to the source folder.
        package var images: [String]

        /// Creates a pair.
        package init(label: String, images: [String]) {
            self.label = label
            self.images = images
        }
    }

    /// Creates a summary.
    package init(
        jobs: Int, cached: Int = 0, generated: Int = 0, planned: Int = 0, images: [String] = [], failures: [Failure] = [],
        error: String? = nil
    ) {
        self.jobs = jobs
        self.cached = cached
        self.generated = generated
        self.planned = planned
        self.images = images
        self.failures = failures
        self.error = error
    }

    /// The first line of a prompt, shortened, in quotes: how messages name a prompt.
    package static func excerpt(_ prompt: String) -> String {
        let line = prompt.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return "\"" + (line.count > 40 ? line.prefix(40) + "…" : line) + "\""
    }

    /// Failed pairs, or every pending pair when the phase failed as a whole.
    package var failureCount: Int { error != nil ? max(1, jobs - cached) : failures.count }
}
