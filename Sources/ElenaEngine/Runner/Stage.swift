package import ElenaCore
import Foundation

/// What a finished node hands to the nodes after it: a digest and a summary for the store, and the typed value the
/// next stages read (never a round trip through JSON within a run).
package struct NodeOutput: Sendable, Hashable {
    /// A small summary, stored with the run and shown by `status`: the value's canonical JSON, the store's edge.
    package var summary: JSONText
    /// The digest downstream cache keys use: the bytes written, or the canonical JSON of a decision.
    /// Equal digests mean downstream nodes need not run again (early cut-off).
    package var digest: Digest
    /// A library-relative file the next stage reads, if any (checked on every cache hit).
    package var artifactPath: String?
    /// The artifact's stamp when written: set on an output made in this run (what its record will hold); a cache
    /// hit's is its record's, checked when the hit was read, and not kept.
    package var artifactStamp: FileStamp? {
        get { extras?.stamp }
        set { extras = Extras(stamp: newValue, value: extras?.value) }
    }
    /// The value the stage hands on (a `Detection`), when it has one. Set when the stage runs; read back from
    /// `summary` by `Stage.value(fromRecorded:)` on a cache hit whose dependent has work to do.
    package var value: (any Sendable)? {
        get { extras?.value }
        set { extras = Extras(stamp: extras?.stamp, value: newValue) }
    }
    /// The stamp and the value, behind one reference: a run holds one output per node (600,000 for a drop of
    /// 100,000 items), and the outputs of a rerun (cache hits) have neither, so the 32 bytes of an inline stamp and
    /// a reference of its own each took more than the box (the states of a 100,000-item no-op rerun: 62 -> 48 MB).
    private var extras: Extras?

    private final class Extras: Sendable {
        let stamp: FileStamp?
        let value: (any Sendable)?

        /// nil when there is neither.
        init?(stamp: FileStamp?, value: (any Sendable)?) {
            guard stamp != nil || value != nil else { return nil }
            self.stamp = stamp
            self.value = value
        }
    }

    /// Creates an output.
    package init(
        digest: Digest, artifactPath: String? = nil, artifactStamp: FileStamp? = nil, summary: JSONValue = .null,
        value: (any Sendable)? = nil
    ) {
        self.summary = JSONText(summary)
        self.digest = digest
        self.artifactPath = artifactPath
        self.extras = Extras(stamp: artifactStamp, value: value)
    }

    /// Creates an output with a summary kept as text.
    package init(digest: Digest, artifactPath: String?, artifactStamp: FileStamp?, summaryText: JSONText) {
        self.summary = summaryText
        self.digest = digest
        self.artifactPath = artifactPath
        self.extras = Extras(stamp: artifactStamp, value: nil)
    }

    /// Outputs are equal when what is stored is equal (the value is what the summary says).
    package static func == (lhs: NodeOutput, rhs: NodeOutput) -> Bool {
        lhs.digest == rhs.digest && lhs.artifactPath == rhs.artifactPath && lhs.artifactStamp == rhs.artifactStamp
            && lhs.summary == rhs.summary
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
        hasher.combine(artifactPath)
        hasher.combine(summary)
    }
}

/// How a node's work ended (failures are thrown).
package enum StageOutcome: Sendable {
    /// Done; downstream may run.
    case done(NodeOutput)
    /// A gate that waits for a person; downstream is blocked.
    case waiting(String)
    /// Deliberately not done (for example a rejected crop); downstream is skipped with the same reason.
    case skipped(String)
    /// Dry run: the work that would be done now (reported as planned).
    case wouldRun(String)
}

/// Where a node ended up in a run.
package enum NodeState: Sendable {
    /// Ran now.
    case ran(NodeOutput)
    /// Up to date: a successful record with the same key (and an intact artifact) exists.
    case cached(NodeOutput)
    /// Dry run: would run now.
    case planned
    /// Waits for a person (a gate).
    case waiting(String)
    /// Cannot run because something before it did not finish.
    case blocked(BlockedReason)
    /// Deliberately left out.
    case skipped(String)
    /// Failed; the message names the problem.
    case failed(String)

    /// The output, when the node finished.
    package var output: NodeOutput? {
        switch self {
        case .ran(let output), .cached(let output): return output
        default: return nil
        }
    }

    /// A one-word name for counts: ran, cached, planned, waiting, blocked, skipped, failed.
    package var word: String {
        switch self {
        case .ran: return "ran"
        case .cached: return "cached"
        case .planned: return "planned"
        case .waiting: return "waiting"
        case .blocked: return "blocked"
        case .skipped: return "skipped"
        case .failed: return "failed"
        }
    }
}

/// Everything a stage may use while it runs one node.
package struct NodeContext: Sendable {
    /// The node.
    package var node: NodeID
    /// The plan it belongs to.
    package var plan: DropPlan
    /// Outputs of the nodes it depends on, by stage.
    package var inputs: [StageName: NodeOutput]
    /// The node's cache key. Not worked out for `Stage.resolve`, which answers without it: reading it there is a
    /// bug, and stops the process.
    package var key: CacheKey {
        get {
            guard let workedOut else { preconditionFailure("internal error: a stage's resolve read the cache key (a bug)") }
            return workedOut
        }
        set { workedOut = newValue }
    }
    private var workedOut: CacheKey?
    /// Shared services.
    package var environment: RunEnvironment
    /// Scratch memory shared by one item's nodes during this run (decoded images).
    package var workspace: ItemWorkspace?
    /// For collecting nodes: the outputs of the item nodes they depend on that finished, with the item's index.
    package var collected: [(item: Int, stage: StageName, output: NodeOutput)] = []

    /// A context; `key` nil for one given to `Stage.resolve`.
    package init(
        node: NodeID, plan: DropPlan, inputs: [StageName: NodeOutput], key: CacheKey?, environment: RunEnvironment,
        workspace: ItemWorkspace?, collected: [(item: Int, stage: StageName, output: NodeOutput)] = []
    ) {
        self.node = node
        self.plan = plan
        self.inputs = inputs
        self.workedOut = key
        self.environment = environment
        self.workspace = workspace
        self.collected = collected
    }

    /// The item, for item-level nodes.
    package var item: PlannedItem? { node.item.map { plan.items[$0] } }
    /// The job, for job nodes.
    package var job: PlannedJob? { node.job.map { plan.jobs[$0] } }

    /// The values the collected nodes of `stage` handed on, with their items.
    /// - Throws: `StageError` when one is of another type (a bug, as for `input(_:as:)`).
    package func collected<Value: Sendable>(_ stage: StageName, as type: Value.Type) throws -> [(item: Int, value: Value)] {
        try collected.filter { $0.stage == stage }.map { entry in
            guard let value = entry.output.value as? Value else {
                throw StageError("internal error: a collected \(stage.rawValue) output is not a \(Value.self) (a bug)")
            }
            return (entry.item, value)
        }
    }

    /// The value an input stage handed on.
    /// - Throws: `StageError` when the input is missing or of another type (a bug: the runner reads recorded
    ///   outputs back before a node runs, and runs the input again when its record no longer reads).
    package func input<Value: Sendable>(_ stage: StageName, as type: Value.Type) throws -> Value {
        guard let output = inputs[stage] else { throw StageError("internal error: no \(stage.rawValue) input (a bug)") }
        guard let value = output.value as? Value else {
            throw StageError("internal error: the \(stage.rawValue) input is not a \(Value.self) (a bug)")
        }
        return value
    }
}

/// Why a node could not run.
package enum BlockedReason: Sendable, Hashable, CustomStringConvertible {
    /// A gate before it waits for a person (its own node says what to do).
    case awaiting(StageName)
    /// A node before it failed.
    case failed(StageName)
    /// The run stopped before starting it (`RunReport.stopped` says why).
    case notStarted

    /// The sentence shown for the node: `awaiting review`, `crop failed`, `not started: the run stopped`.
    package var description: String {
        switch self {
        case .awaiting(let gate): return "awaiting \(gate.rawValue)"
        case .failed(let stage): return "\(stage.rawValue) failed"
        case .notStarted: return "not started: the run stopped"
        }
    }
}

/// One kind of node. A stage decides from its inputs and parameters and acts through the environment's ports.
package protocol Stage: Sendable {
    /// Which stage this is.
    var name: StageName { get }
    /// Bumped whenever the same inputs could give a different output.
    var version: Int { get }
    /// Whether a successful run is cached by key. Gates (whose answer comes from outside) are not.
    var isCacheable: Bool { get }
    /// Parameters shared by every item with the same overrides; memoised per (stage, overrides).
    func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue
    /// Parameters specific to one item (file names, a human's recrop line); not memoised.
    func itemParameters(for item: PlannedItem?) -> JSONValue
    /// The state to report in a dry run when an input will only be known after running.
    var stateWhenInputPending: NodeState { get }
    /// A quick, side-effect-free answer when no work is needed (gates whose decision is settled, detection that
    /// the strategy does not need). Called for every node of non-cacheable stages, and before the cache for
    /// stages that set `resolvesBeforeCache`. The context has no cache key yet (the answer cannot depend on it)
    /// and no workspace.
    func resolve(_ context: NodeContext) -> StageOutcome?
    /// Whether `resolve` may settle nodes of this cacheable stage without a cache record.
    var resolvesBeforeCache: Bool { get }
    /// Does the work. Non-cacheable stages are also called in dry runs and must then change nothing.
    func run(_ context: NodeContext) async throws -> StageOutcome
    /// The value a recorded output stands for (what `run` puts in `NodeOutput.value`), read back from its summary.
    /// Nil for stages that hand on no value. Throwing makes the record a cache miss: the node runs again.
    func value(fromRecorded output: NodeOutput) throws -> (any Sendable)?
    /// Whether what a recorded output with no artifact made is still there (generation: its images in the source
    /// folder). False makes the record a cache miss. A recorded artifact is checked by the runner itself.
    func isIntact(_ output: NodeOutput, environment: RunEnvironment) -> Bool
}

extension Stage {
    package var isCacheable: Bool { true }
    package func itemParameters(for item: PlannedItem?) -> JSONValue { .null }
    package var stateWhenInputPending: NodeState { .planned }
    package func resolve(_ context: NodeContext) -> StageOutcome? { nil }
    package var resolvesBeforeCache: Bool { false }
    package func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? { nil }
    package func isIntact(_ output: NodeOutput, environment: RunEnvironment) -> Bool { true }
}

/// A failure inside a stage, naming what went wrong in one sentence (shown per item).
package struct StageError: Error, Sendable, CustomStringConvertible {
    /// The sentence.
    package var description: String

    /// Creates an error.
    package init(_ description: String) { self.description = description }
}

/// Per-item scratch memory for one run: lets `detect` and `crop` share one decoded image.
package final class ItemWorkspace: Sendable {
    private let storage = Locked<[String: any Sendable]>([:])

    /// An empty workspace.
    package init() {}

    /// The value under `key`, computing and keeping it on first use.
    package func value<T: Sendable>(_ key: String, make: () throws -> T) rethrows -> T {
        if let existing = storage.withLock({ $0[key] as? T }) { return existing }
        let made = try make()
        storage.withLock { $0[key] = made }
        return made
    }

    /// Drops everything.
    package func clear() { storage.withLock { $0.removeAll() } }
}
