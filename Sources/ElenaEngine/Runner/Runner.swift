package import ElenaCore
import Foundation
import Logging

/// Reads the successful stage runs a runner may hit: `read(items)` gives those of the items given, a part of
/// `partSize` at a time, and `steps(keys)` those recorded under the keys of drop-level nodes, asked for as each
/// becomes ready (its key names what it collects, known only then).
package struct RunCacheReader: Sendable {
    /// How many items' steps are read at once.
    package var partSize: Int
    /// Reads the steps of `items`.
    package var read: @Sendable (_ items: [Digest]) async throws -> [CacheKey: CachedStep]
    /// Reads the successful steps recorded under `keys`.
    package var steps: @Sendable (_ keys: [CacheKey]) async throws -> [CacheKey: CachedStep]

    /// A reader.
    package init(
        partSize: Int, read: @escaping @Sendable (_ items: [Digest]) async throws -> [CacheKey: CachedStep],
        steps: @escaping @Sendable (_ keys: [CacheKey]) async throws -> [CacheKey: CachedStep]
    ) {
        self.partSize = partSize
        self.read = read
        self.steps = steps
    }

    /// Every step read beforehand: each ask is answered by the whole index (tests, and the jobs of a source plan).
    package static func whole(_ index: [CacheKey: CachedStep]) -> RunCacheReader {
        RunCacheReader(
            partSize: .max / 2, read: { _ in index },
            steps: { keys in Dictionary(keys.compactMap { key in index[key].map { (key, $0) } }, uniquingKeysWith: { first, _ in first }) })
    }

    /// Reads from a store's run cache. A drop-level step is read by its key: read by stage, every drop's steps of
    /// that stage came with it, each earlier version of them too (a 100,000-item drop's `similar` step records
    /// 3 MB, and every change of the drop's items records another).
    package static func store(_ cache: any RunCache, partSize: Int = 1_500) -> RunCacheReader {
        RunCacheReader(
            partSize: partSize, read: { items in try await cache.cacheIndex(items: items) },
            steps: { keys in try await cache.cacheRecords(keys: keys).mapValues(CachedStep.init) })
    }
}

/// Runs a plan's graph: every ready node whose key has no successful record does its work, up to
/// `concurrency` at a time, items started in order so one item's chain finishes before many others begin.
/// Cache hits, blocked and skipped nodes are settled inline without spawning work.
package struct Runner: Sendable {
    /// The stages by name, with their declarations.
    package let stages: [StageName: Pipeline.Entry]

    /// A runner for the stages of `pipeline`.
    package init(_ pipeline: Pipeline) {
        var table: [StageName: Pipeline.Entry] = [:]
        for entry in pipeline.entries { table[entry.declaration.name] = entry }
        self.stages = table
    }

    /// A node's work, and before it the cached inputs whose recorded output no longer reads (they run again).
    private struct Work: Sendable {
        var context: NodeContext
        var stage: any Stage
        var verify: CachedStep?
        var index: Int
        var recompute: [Work] = []
    }

    private enum Preparation {
        case finished(NodeState)
        case work(Work)
        /// A drop-level node whose step under this key has not been read yet.
        case lookUp(CacheKey)
    }

    /// Items with the same overrides share a stage's parameters.
    private struct MemoKey: Hashable {
        var stage: StageName
        var overrides: [Int]?
        /// Set for items whose metadata was set on their own (in review).
        var item: Digest?
    }

    /// A finished step as read from the run cache, its file's stamp already compared with the recorded one where
    /// the part was read (a step whose recorded file is gone is no hit at all).
    private enum Hit: Sendable {
        /// Its file is the one recorded: the node is settled with this output.
        case intact(NodeOutput)
        /// It recorded no file: the node is settled with this output if its stage finds what it made intact.
        case noFile(NodeOutput)
        /// Its file's stamp changed: the node is settled only if the file's bytes still give the recorded digest.
        case changed(CachedStep)
    }

    private struct Finished: Sendable {
        var index: Int
        var state: NodeState
        var record: StageRecord?
        /// Set when the work failed with a `RunStopping` error: no new work starts after it.
        var stop: String?
        /// Cached inputs that ran again first because their recorded output no longer read.
        var recomputed: [Finished] = []
    }

    /// Runs (or, with `environment.dryRun`, plans) every node, with the successful stage runs read beforehand.
    /// - Parameters:
    ///   - plan: the drop's plan.
    ///   - environment: services and options.
    ///   - cacheIndex: what the successful stage runs left, by key.
    ///   - failedBefore: failed stage runs by key: a dry run reports a node that would run again with the same key
    ///     as failed with last time's message instead of planned (a real run retries it).
    /// - Returns: every node's state.
    package func run(
        _ plan: DropPlan, environment: RunEnvironment, cacheIndex: [CacheKey: CachedStep],
        failedBefore: [CacheKey: StageRecord] = [:]
    ) async -> RunReport {
        await run(plan, environment: environment, cache: .whole(cacheIndex), failedBefore: failedBefore)
    }

    /// Runs (or plans) every node, reading the successful stage runs as it goes: the drop-level nodes' first, then
    /// the items' a part at a time, the next parts while this one is settled. A part is let go once its items are
    /// settled, so a drop of 100,000 items never holds its 300,000 finished steps at once.
    /// - Parameter settled: given each part's items as soon as all their nodes are settled (in the order the parts
    ///   are), and an item again should a later node make one of its nodes again (a collector whose input no longer
    ///   read), so what follows from an item's states can be worked out while the runner settles the rest. The
    ///   runner waits for it before settling more: a taker that falls behind holds it back rather than letting the
    ///   parts it has yet to take pile up (each a copy of its nodes' states).
    package func run(
        _ plan: DropPlan, environment: RunEnvironment, cache reader: RunCacheReader,
        failedBefore: [CacheKey: StageRecord] = [:], settled: (@Sendable (SettledItems) async -> Void)? = nil
    ) async -> RunReport {
        // All scheduling state lives in arrays indexed like the graph's nodes: a no-op rerun of 10,000 items
        // settles 50,000 nodes, so per-node hashing and allocation matter.
        let graph = plan.graph
        let count = graph.nodes.count
        var states = [NodeState?](repeating: nil, count: count)
        var remaining = (0..<count).map { graph.dependencyCount(of: $0) }
        var ready = MinHeap((0..<count).filter { remaining[$0] == 0 })
        // An item's scratch memory goes once its last node is settled.
        var openNodesPerItem = [Int](repeating: 0, count: plan.items.count)
        for node in graph.nodes { if let item = node.item { openNodesPerItem[item] += 1 } }
        var workspaces: [Int: ItemWorkspace] = [:]
        /// Each stage's shared parts of a key (its shared parameters among them) per memo key.
        var sharedMemo: [MemoKey: CacheKey.Prefix] = [:]
        /// The same for items without overrides or metadata of their own, by the stage's position in the unit.
        var plainShared = [CacheKey.Prefix?](repeating: nil, count: graph.unitStages.count)
        /// A key's named inputs, laid out in one buffer the run keeps (no array made for each of 300,000 keys).
        var keyInputs: [(name: String, digest: Digest)] = []
        var pendingRecords: [StageRecord] = []
        /// Settled parts (and items settled again) not yet handed to `settled`.
        var handOff: [SettledItems] = []
        func handOn() async {
            guard !handOff.isEmpty, let settled else { return }
            let parts = handOff
            handOff.removeAll()
            for part in parts { await settled(part) }
        }
        var done = 0
        var imagesDone = 0
        let limit = max(1, environment.concurrency)
        var stopped: String?
        var stoppedBy: Set<NodeID> = []

        func stop(_ reason: String) {
            guard stopped == nil else { return }
            stopped = reason
            environment.reporter.stopping(reason)
        }

        // The run cache: the drop-level nodes' steps, and the items' a part at a time.
        func reading(_ error: any Error) -> String {
            (error as? any RunStopping)?.stopReason ?? "the run cache could not be read: \(error)"
        }
        // Each step comes with its file's stamp, taken where the part was read (on the other core): the check that
        // the file is the one recorded is the same, made a moment earlier.
        let layout = environment.layout
        // Equal short summaries of a part share one text: most of a drop's ingest summaries are the same few
        // (`{"format":"png","width":1024,...}`), and each read from the ledger is a string of its own, kept by the
        // node's state to the end of the run (10 MB of a 100,000-item drop's no-op rerun).
        // The outputs are made here too, so settling a hit on the runner's side copies one value.
        @Sendable func hits(_ steps: [CacheKey: CachedStep]) -> [CacheKey: Hit] {
            let stamps = FileSystem.StampReader()
            var shared: Set<JSONText> = []
            var hits: [CacheKey: Hit] = [:]
            hits.reserveCapacity(steps.count)
            for (key, step) in steps {
                var summary = step.output
                if summary.text.utf8.count <= 128 {
                    let (inserted, known) = shared.insert(summary)
                    if !inserted { summary = known }
                }
                let output = NodeOutput(
                    digest: step.outputDigest ?? key.digest, artifactPath: step.artifactPath, artifactStamp: nil,
                    summaryText: summary)
                guard let path = step.artifactPath else {
                    hits[key] = .noFile(output)
                    continue
                }
                // A recorded file that is gone makes no hit: the step is done again.
                guard let stamp = stamps.stamp(layout.absolute(path)) else { continue }
                hits[key] = stamp == step.artifactStamp ? .intact(output) : .changed(step)
            }
            return hits
        }
        // The drop-level nodes' steps, each read by its key as the node becomes ready (the keys looked up, found or
        // not, and the keys worked out, once: a collector's names every item it collects).
        var dropSteps: [CacheKey: Hit] = [:]
        var lookedUp: Set<CacheKey> = []
        var dropKeys: [Int: CacheKey] = [:]
        func lookUp(_ key: CacheKey) async {
            lookedUp.insert(key)
            do {
                dropSteps.merge(hits(try await reader.steps([key]))) { _, read in read }
            } catch {
                stop(reading(error))
            }
        }
        let partSize = max(1, reader.partSize)
        let partCount = (plan.items.count + partSize - 1) / partSize
        // Reading a part (its rows, then its files' stamps) takes longer than settling it: with one part read
        // ahead the runner waited 0.4-0.5 s of a 100,000-item no-op rerun for its reads, with two 0.06-0.12 s.
        let readAhead = 2
        /// The parts' hits, by part (nil: not read, or let go).
        var loadedParts = [[CacheKey: Hit]?](repeating: nil, count: partCount)
        var readingParts: [Int: Task<[CacheKey: Hit], any Error>] = [:]
        /// The items (plan indices) of a part.
        func items(ofPart part: Int) -> Range<Int> { (part * partSize)..<min(plan.items.count, (part + 1) * partSize) }
        var openItemsPerPart = (0..<partCount).map { items(ofPart: $0).count }
        func startReading(_ part: Int) {
            guard part < partCount, loadedParts[part] == nil, readingParts[part] == nil else { return }
            let ids = plan.items[items(ofPart: part)].map(\.id)
            readingParts[part] = Task { hits(try await reader.read(ids)) }
        }
        /// Makes sure the steps of the item's part are at hand (and the next part's on their way).
        func load(item: Int) async {
            let part = item / partSize
            guard loadedParts[part] == nil else { return }
            startReading(part)
            do {
                loadedParts[part] = try await readingParts[part]?.value ?? [:]
            } catch {
                // Without its steps a part would be done again: the run stops instead (as when the ledger goes).
                loadedParts[part] = [:]
                stop(reading(error))
            }
            readingParts[part] = nil
            if stopped == nil { for next in part + 1...part + readAhead { startReading(next) } }
        }
        func cached(_ key: CacheKey, item: Int?) -> Hit? {
            guard let item else { return dropSteps[key] }
            return loadedParts[item / partSize]?[key]
        }

        // Records are written in batches, and at least every half second: a slow step (a generated image) is in
        // the ledger soon after it finished, whatever happens to the process next.
        var lastFlush = ContinuousClock.now
        func flush(force: Bool) async {
            guard !environment.dryRun, !pendingRecords.isEmpty,
                force || pendingRecords.count >= 64 || ContinuousClock.now - lastFlush >= .milliseconds(500)
            else { return }
            lastFlush = ContinuousClock.now
            let batch = pendingRecords
            pendingRecords.removeAll(keepingCapacity: true)
            do {
                try await environment.cache.record(batch)
            } catch let error as any RunStopping where error.stopReason != nil {
                // The steps are done (their files are in place); the next run finds them by their outputs or redoes them.
                stop(error.stopReason ?? "")
            } catch {
                environment.reporter.note("warning: could not record \(batch.count) finished steps: \(error)")
            }
        }

        func complete(_ index: Int, _ state: NodeState, record: StageRecord?) {
            let node = graph.node(at: index)
            states[index] = state
            if let record { pendingRecords.append(record) }
            done += 1
            if let item = node.item {
                openNodesPerItem[item] -= 1
                if openNodesPerItem[item] == 0 {
                    workspaces[item] = nil
                    imagesDone += 1
                    let part = item / partSize
                    openItemsPerPart[part] -= 1
                    if openItemsPerPart[part] == 0 {
                        loadedParts[part] = nil
                        if settled != nil { handOff.append(SettledItems(items: items(ofPart: part), graph: graph, states: states)) }
                    }
                }
            }
            environment.reporter.finished(
                node, subject: plan.subject(node), state: state,
                progress: RunProgress(images: imagesDone, imagesTotal: plan.items.count, steps: done, stepsTotal: count))
            for dependent in graph.dependentIndices(of: index) {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }

        func workspace(for node: NodeID) -> ItemWorkspace? {
            guard let index = node.item else { return nil }
            if let existing = workspaces[index] { return existing }
            let created = ItemWorkspace()
            workspaces[index] = created
            return created
        }

        // A unit node's stage and policy by its position in the unit, looked up once per stage rather than hashed
        // and copied (with its declaration) for each of 600,000 nodes.
        let unitStages = graph.unitStages.map { name in stages[name].map { (stage: $0.stage, policy: $0.declaration.policy) } }

        /// What to do with a ready node; `recomputing` skips the cache (its record no longer reads).
        func prepare(_ index: Int, recomputing: Bool = false) -> Preparation {
            let node = graph.node(at: index)
            /// The node's stage among a unit's (nil for a drop node).
            let position = graph.unitPosition(of: index)
            guard
                let (stage, policy) = position.flatMap({ unitStages[$0] })
                    ?? stages[node.stage].map({ ($0.stage, $0.declaration.policy) })
            else {
                return .finished(.failed("internal error: no stage '\(node.stage.rawValue)' is registered (a bug)"))
            }
            var upstream: [(stage: StageName, output: NodeOutput, index: Int)] = []
            // A collector takes from every item: what it collects is noted by node (100,000 at the end of a big
            // drop's run, when the run holds the most), its key read from the states in place, and the outputs
            // themselves copied out only for a node that works or resolves.
            var collectedIndices: [Int] = []
            var collectedDigests: [Digest] = []
            if policy != .all {
                collectedIndices.reserveCapacity(graph.dependencyCount(of: index))
                collectedDigests.reserveCapacity(graph.dependencyCount(of: index))
            }
            var pending = false
            // The gate some collected item still waits at (a person has not decided yet).
            var awaiting: StageName?
            for dependency in graph.dependencyIndices(of: index) {
                let dependencyStage = graph.node(at: dependency).stage
                if policy != .all, graph.node(at: dependency).item != nil {
                    // A collector takes what finished; with `.decided` it waits while a gate is still open.
                    var gate: StageName?
                    switch states[dependency] {
                    case .ran(let output)?, .cached(let output)?:
                        collectedIndices.append(dependency)
                        collectedDigests.append(output.digest)
                    case .planned?: pending = true
                    case .waiting?: gate = dependencyStage
                    case .blocked(.awaiting(let open))?: gate = open
                    default: break
                    }
                    if let gate {
                        if policy == .decided { return .finished(.blocked(.awaiting(gate))) }
                        awaiting = awaiting ?? gate
                    }
                    continue
                }
                switch states[dependency] {
                case .ran(let output)?, .cached(let output)?: upstream.append((dependencyStage, output, dependency))
                case .planned?: pending = true
                case .waiting?: return .finished(.blocked(.awaiting(dependencyStage)))
                case .blocked(let reason)?: return .finished(.blocked(reason))
                case .skipped(let reason)?: return .finished(.skipped(reason))
                case .failed?: return .finished(.blocked(.failed(dependencyStage)))
                case nil: return .finished(.failed("internal error: \(dependencyStage.rawValue) did not finish first (a bug)"))
                }
            }
            if pending { return .finished(stage.stateWhenInputPending) }
            // Nothing to collect yet, only items a person has still to decide: wait with them.
            if policy == .available, collectedIndices.isEmpty, let gate = awaiting { return .finished(.blocked(.awaiting(gate))) }

            // The key is worked out only for a node that may hit the cache or work: one its stage settles at once
            // (detection the strategy does not need, a gate whose decision stands; 200,000 of a 100,000-item drop's
            // no-op rerun) needs none.
            var workedOut: CacheKey? = node.item == nil ? dropKeys[index] : nil
            func key() -> CacheKey {
                if let workedOut { return workedOut }
                let item = node.item.map { plan.items[$0] }
                let prefix: CacheKey.Prefix
                /// The item's own parameters, laid out after the shared ones.
                var own: String?
                if let job = node.job {
                    // A job's key is its own parameters (generation: the graph it queues).
                    prefix = CacheKey.Prefix(
                        stage: stage.name.rawValue, version: stage.version,
                        parameters: plan.jobs[job].parameters.serialized(canonical: true))
                } else {
                    // Most items have no overrides of their own: their stage's shared parts are kept by position,
                    // with no memo key hashed.
                    let plain = item.map { $0.overrides.isEmpty && !$0.hasOwnMetadata } ?? false
                    let slot = plain ? position : nil
                    if let slot, let known = plainShared[slot] {
                        prefix = known
                    } else {
                        let memoKey = MemoKey(
                            stage: node.stage, overrides: item?.overrides, item: item?.hasOwnMetadata == true ? item?.id : nil)
                        if let known = sharedMemo[memoKey] {
                            prefix = known
                        } else {
                            prefix = CacheKey.Prefix(
                                stage: stage.name.rawValue, version: stage.version,
                                parameters: stage.sharedParameters(for: item, plan: plan).serialized(canonical: true))
                            sharedMemo[memoKey] = prefix
                        }
                        if let slot { plainShared[slot] = prefix }
                    }
                    let specific = stage.itemParameters(for: item)
                    if specific != .null { own = specific.serialized(canonical: true) }
                }
                // An item node's inputs are its source bytes (the item's digest) and its upstream outputs; a
                // collector's are named by the items it collects.
                keyInputs.removeAll(keepingCapacity: true)
                for input in upstream { keyInputs.append((name: input.stage.rawValue, digest: input.output.digest)) }
                if let item { keyInputs.append((name: "source", digest: item.id)) }
                let key = CacheKey(
                    prefix: prefix, own: own, inputs: keyInputs,
                    collectedCount: collectedIndices.count
                ) { position in
                    let node = graph.node(at: collectedIndices[position])
                    return CacheKey.Collected(
                        stage: node.stage.rawValue, item: plan.items[node.item ?? 0].id, digest: collectedDigests[position])
                }
                workedOut = key
                if node.item == nil { dropKeys[index] = key }
                return key
            }

            /// The collected outputs, copied out of the states once (for a node that resolves or works).
            var collected: [(item: Int, stage: StageName, output: NodeOutput)]?
            func collectedOutputs() -> [(item: Int, stage: StageName, output: NodeOutput)] {
                if let collected { return collected }
                let outputs = collectedIndices.indices.map { position in
                    let dependency = collectedIndices[position]
                    let node = graph.node(at: dependency)
                    let output = states[dependency]?.output ?? NodeOutput(digest: collectedDigests[position])
                    return (item: node.item ?? 0, stage: node.stage, output: output)
                }
                collected = outputs
                return outputs
            }
            /// The node's context; `working: false` for `resolve`, which answers without the key and the item's
            /// scratch memory (neither is made for the nodes it settles).
            func context(working: Bool = true) -> NodeContext {
                var inputs: [StageName: NodeOutput] = [:]
                for (stage, output, _) in upstream { inputs[stage] = output }
                return NodeContext(
                    node: node, plan: plan, inputs: inputs, key: working ? key() : nil, environment: environment,
                    workspace: working ? workspace(for: node) : nil, collected: collectedOutputs())
            }
            if !recomputing, stage.resolvesBeforeCache, let outcome = stage.resolve(context(working: false)) {
                return .finished(Self.state(outcome, ran: false))
            }

            var verify: CachedStep?
            if !recomputing, stage.isCacheable, node.item == nil, !lookedUp.contains(key()) {
                return .lookUp(key())
            }
            if !recomputing, stage.isCacheable, let hit = cached(key(), item: node.item) {
                switch hit {
                case .intact(let output): return .finished(.cached(output))
                case .noFile(let output): if stage.isIntact(output, environment: environment) { return .finished(.cached(output)) }
                case .changed(let record): verify = record
                }
            }
            if stage.isCacheable, verify == nil, environment.dryRun {
                if let failed = failedBefore[key()] { return .finished(.failed(failed.error ?? "failed")) }
                return .finished(.planned)
            }

            // The node will work: its inputs from the cache are read back into the values their stages hand on
            // (once per run). A recorded output that no longer reads is a cache miss: that input runs again first.
            var recompute: [Work] = []
            var unreadable = false
            /// The input's output with its value read back; nil when the record no longer reads (it runs again).
            func readBack(_ output: NodeOutput, of dependency: Int) -> NodeOutput? {
                guard output.value == nil, case .cached? = states[dependency],
                    let inputStage = stages[graph.node(at: dependency).stage]?.stage
                else { return output }
                do {
                    guard let value = try inputStage.value(fromRecorded: output) else { return output }
                    var read = output
                    read.value = value
                    states[dependency] = .cached(read)
                    return read
                } catch {
                    unreadable = true
                    if !environment.dryRun, case .work(let again) = prepare(dependency, recomputing: true) {
                        recompute.append(again)
                    }
                    return nil
                }
            }
            for position in upstream.indices {
                if let read = readBack(upstream[position].output, of: upstream[position].index) { upstream[position].output = read }
            }
            var outputs = collectedOutputs()
            for position in outputs.indices {
                if let read = readBack(outputs[position].output, of: collectedIndices[position]) { outputs[position].output = read }
            }
            collected = outputs
            if unreadable && environment.dryRun { return .finished(.planned) }
            var prepared = context(working: stage.isCacheable)
            if !stage.isCacheable {
                if let outcome = stage.resolve(prepared) { return .finished(Self.state(outcome, ran: false)) }
                prepared.key = key()
                prepared.workspace = workspace(for: node)
            }
            return .work(Work(context: prepared, stage: stage, verify: verify, index: index, recompute: recompute))
        }

        await withTaskGroup(of: Finished.self) { group in
            var running = 0
            while true {
                while running < limit, let index = ready.popMin() {
                    // (An async call per node costs a frame even when the part is at hand.)
                    if let item = graph.node(at: index).item, loadedParts[item / partSize] == nil { await load(item: item) }
                    var preparation = prepare(index)
                    if case .lookUp(let key) = preparation {
                        await lookUp(key)
                        preparation = prepare(index)
                    }
                    switch preparation {
                    case .lookUp:
                        complete(index, .failed("internal error: a step was looked up twice (a bug)"), record: nil)
                    case .finished(let state):
                        complete(index, state, record: nil)
                        if !handOff.isEmpty { await handOn() }
                    case .work where stopped != nil:
                        complete(index, .blocked(.notStarted), record: nil)
                        if !handOff.isEmpty { await handOn() }
                    case .work(let work):
                        running += 1
                        group.addTask { await Self.work(work) }
                    }
                }
                if running == 0 { break }
                guard let finished = await group.next() else { break }
                running -= 1
                for again in finished.recomputed {
                    states[again.index] = again.state
                    if let record = again.record { pendingRecords.append(record) }
                    // An item already handed on changed: it is handed on again.
                    if settled != nil, let item = graph.node(at: again.index).item, openItemsPerPart[item / partSize] == 0 {
                        handOff.append(SettledItems(items: item..<(item + 1), graph: graph, states: states))
                    }
                }
                if let reason = finished.stop {
                    stop(reason)
                    stoppedBy.insert(graph.node(at: finished.index))
                }
                complete(finished.index, finished.state, record: finished.record)
                if !handOff.isEmpty { await handOn() }
                await flush(force: false)
            }
        }
        await handOn()
        await flush(force: true)
        for task in readingParts.values { _ = try? await task.value }
        var report = RunReport(plan: plan, states: NodeStates(graph: graph, slots: states), dryRun: environment.dryRun)
        report.stopped = stopped
        report.stoppedBy = stoppedBy
        return report
    }

    private static func state(_ outcome: StageOutcome, ran: Bool) -> NodeState {
        switch outcome {
        case .done(let output): return ran ? .ran(output) : .cached(output)
        case .waiting(let reason): return .waiting(reason)
        case .skipped(let reason): return .skipped(reason)
        case .wouldRun: return .planned
        }
    }

    private static func work(_ work: Work) async -> Finished {
        var work = work
        var recomputed: [Finished] = []
        for again in work.recompute {
            let finished = await Self.work(again)
            recomputed.append(finished)
            guard case .ran(let output) = finished.state else {
                // The input could not be made again: this node cannot run either.
                var blocked = Finished(index: work.index, state: .blocked(.failed(again.stage.name)), record: nil)
                switch finished.state {
                case .blocked(let reason): blocked.state = .blocked(reason)
                case .skipped(let reason): blocked.state = .skipped(reason)
                case .waiting: blocked.state = .blocked(.awaiting(again.stage.name))
                default: break
                }
                blocked.stop = finished.stop
                blocked.recomputed = recomputed
                return blocked
            }
            // The fresh output replaces the unreadable one, as an input or among the collected.
            if let item = again.context.node.item,
                let position = work.context.collected.firstIndex(where: { $0.item == item && $0.stage == again.stage.name })
            {
                work.context.collected[position].output = output
            } else {
                work.context.inputs[again.stage.name] = output
            }
        }
        var finished = await run(work.context, stage: work.stage, verify: work.verify, index: work.index)
        finished.recomputed = recomputed
        return finished
    }

    private static func run(_ context: NodeContext, stage: any Stage, verify: CachedStep?, index: Int) async -> Finished {
        let environment = context.environment
        let started = environment.now()
        let clock = ContinuousClock.now
        let item = context.item?.id
        let drop = context.plan.drop
        func milliseconds() -> Int {
            let elapsed = ContinuousClock.now - clock
            return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        }
        if let hit = verify, let path = hit.artifactPath {
            // The artifact's stamp changed: trust it only if its bytes still hash to the recorded digest. The record
            // is written again with the new stamp, as a run of the step now (its check is the work done).
            let absolute = environment.layout.absolute(path)
            if let digest = try? FileSystem.digest(absolute), digest == hit.outputDigest {
                let output = NodeOutput(
                    digest: digest, artifactPath: path, artifactStamp: FileSystem.stamp(absolute), summaryText: hit.output)
                let refreshed = StageRecord(
                    key: context.key, stage: stage.name, itemID: item, drop: drop, status: .succeeded, outputDigest: digest,
                    artifactPath: path, artifactStamp: output.artifactStamp, output: hit.output, error: nil, startedAt: started,
                    durationMilliseconds: milliseconds())
                return Finished(index: index, state: .cached(output), record: environment.dryRun ? nil : refreshed)
            }
            if environment.dryRun { return Finished(index: index, state: .planned, record: nil) }
        }
        let label = context.plan.label(context.node)
        do {
            let outcome = try await stage.run(context)
            environment.logger.debug("run: \(label): \(Self.state(outcome, ran: true).word) in \(milliseconds()) ms")
            var record: StageRecord?
            if stage.isCacheable, case .done(let output) = outcome {
                record = StageRecord(
                    key: context.key, stage: stage.name, itemID: item, drop: drop, status: .succeeded,
                    outputDigest: output.digest, artifactPath: output.artifactPath, artifactStamp: output.artifactStamp,
                    output: output.summary, error: nil, startedAt: started, durationMilliseconds: milliseconds())
            }
            return Finished(index: index, state: state(outcome, ran: true), record: record)
        } catch {
            let message = "\(error)"
            environment.logger.debug("run: \(label): failed in \(milliseconds()) ms: \(message)")
            let record =
                environment.dryRun
                ? nil
                : StageRecord(
                    key: context.key, stage: stage.name, itemID: item, drop: drop, status: .failed, outputDigest: nil,
                    artifactPath: nil, artifactStamp: nil, output: .null, error: message, startedAt: started,
                    durationMilliseconds: milliseconds())
            return Finished(
                index: index, state: .failed(message), record: record, stop: (error as? any RunStopping)?.stopReason ?? nil)
        }
    }
}
