package import ElenaCore
package import Foundation
package import Logging

/// What every run needs, whatever its stages: the library, the run cache, the clock, parallelism, progress and
/// locks. The domain's own services (the ledger, the image codec, the face detector, the outbox, Fanvue) live with
/// the stages that use them (ElenaStages' `DropServices`): the engine knows none of them.
package struct RunEnvironment: Sendable {
    /// The library's folders.
    package var layout: LibraryLayout
    /// The run cache: what finished steps produced, by key (the runner records into it).
    package var cache: any RunCache
    /// Dry run: decide everything, change nothing.
    package var dryRun: Bool
    /// Work in parallel on this many nodes.
    package var concurrency: Int
    /// Where progress and per-item errors go.
    package var reporter: any RunReporter
    /// The clock (tests pin it).
    package var now: @Sendable () -> Date
    /// Locks for work that must happen once even with two runners (file locks beside SQLite, advisory locks in
    /// PostgreSQL); in-process locks by default.
    package var locks: any WorkLocks
    /// Each node's work at debug level (`--verbose`, `ELENA_LOG=debug`): what ran, how long, how it ended.
    package var logger: Logger

    /// Creates an environment.
    package init(
        layout: LibraryLayout, cache: any RunCache, dryRun: Bool, concurrency: Int, reporter: any RunReporter,
        now: @escaping @Sendable () -> Date = { Date() }, locks: any WorkLocks = ProcessLocks(),
        logger: Logger = Logger(label: "elena.run", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.logger = logger
        self.layout = layout
        self.cache = cache
        self.dryRun = dryRun
        self.concurrency = concurrency
        self.reporter = reporter
        self.now = now
        self.locks = locks
    }
}

/// Receives progress while a run goes on.
package protocol RunReporter: Sendable {
    /// A node finished (in any state). `subject` is the item's file (or the drop) it worked on.
    func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, progress: RunProgress)
    /// A message worth a line of its own (warnings, notes).
    func note(_ text: String)
    /// Generation moved on: a prompt's step, or a prompt finished.
    func generating(_ progress: GenerationProgress)
    /// The run stopped starting work, for `reason` (a full disk, the ledger gone); the work still in flight fails
    /// the same way and needs no line of its own after this one (the summary lists it).
    func stopping(_ reason: String)
}

extension RunReporter {
    /// Reporters that draw no progress ignore generation.
    package func generating(_ progress: GenerationProgress) {}

    package func stopping(_ reason: String) { note("stopping: \(reason); no new work is started") }
}

/// How far a run is, in the units people count: images (an image is done once every step of it settled), and
/// the steps behind them.
package struct RunProgress: Sendable, Hashable {
    package var images: Int
    package var imagesTotal: Int
    package var steps: Int
    package var stepsTotal: Int

    /// Creates one.
    package init(images: Int, imagesTotal: Int, steps: Int, stepsTotal: Int) {
        self.images = images
        self.imagesTotal = imagesTotal
        self.steps = steps
        self.stepsTotal = stepsTotal
    }
}

/// Where the generation of a drop stands, for progress bars.
package struct GenerationProgress: Sendable, Hashable {
    /// Prompts finished (in any way) so far.
    package var done: Int
    /// Prompts queued by this run.
    package var total: Int
    /// The prompt being followed, e.g. `prompt 2, seed 1001`.
    package var current: String
    /// The current prompt's step and step count (sampler steps), when ComfyUI reported one.
    package var step: (value: Int, max: Int)?
    /// With a pool of servers: what each one does now (`prompt 2, seed 1001 step 4/20`, `waiting`, `gone`), in order.
    package var servers: [ServerState]

    /// One server of a pool and what it does.
    package struct ServerState: Sendable, Hashable {
        package var server: String
        package var doing: String

        /// Creates one.
        package init(server: String, doing: String) {
            self.server = server
            self.doing = doing
        }
    }

    /// Creates a progress value.
    package init(done: Int, total: Int, current: String, step: (value: Int, max: Int)? = nil, servers: [ServerState] = []) {
        self.done = done
        self.total = total
        self.current = current
        self.step = step
        self.servers = servers
    }

    package static func == (lhs: GenerationProgress, rhs: GenerationProgress) -> Bool {
        lhs.done == rhs.done && lhs.total == rhs.total && lhs.current == rhs.current
            && lhs.step?.value == rhs.step?.value && lhs.step?.max == rhs.step?.max && lhs.servers == rhs.servers
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(done)
        hasher.combine(total)
        hasher.combine(current)
        hasher.combine(step?.value)
        hasher.combine(step?.max)
        hasher.combine(servers)
    }
}

/// A reporter that prints nothing (tests, JSON output).
package struct SilentReporter: RunReporter {
    /// Creates it.
    package init() {}
    package func finished(_ node: NodeID, subject: @autoclosure () -> String, state: NodeState, progress: RunProgress) {}
    package func note(_ text: String) {}
}
