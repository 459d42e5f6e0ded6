public import ElenaCore
import Foundation

/// Runs a plan's graph: every ready node whose key has no successful record does its work, up to
/// `concurrency` at a time, items started in order so one item's chain finishes before many others begin.
/// Cache hits, blocked and skipped nodes are settled inline without spawning work.
public struct Runner: Sendable {
    /// The stages by name.
    public let stages: [StageName: any Stage]

    /// Creates a runner.
    public init(stages: [any Stage]) {
        var table: [StageName: any Stage] = [:]
        for stage in stages { table[stage.name] = stage }
        self.stages = table
    }

    private enum Preparation {
        case finished(NodeState)
        case work(NodeContext, stage: any Stage, verify: StageRecord?)
    }

    private struct Finished: Sendable {
        var node: NodeID
        var state: NodeState
        var record: StageRecord?
    }

    /// Runs (or, with `environment.dryRun`, plans) every node.
    /// - Parameters:
    ///   - plan: the drop's plan.
    ///   - environment: services and options.
    ///   - cacheIndex: successful stage runs by key, loaded once from the store.
    /// - Returns: every node's state.
    public func run(_ plan: DropPlan, environment: RunEnvironment, cacheIndex: [CacheKey: StageRecord]) async -> RunReport {
        var states: [NodeID: NodeState] = [:]
        states.reserveCapacity(plan.order.count)
        var remaining: [NodeID: Int] = [:]
        for node in plan.order { remaining[node] = Set(plan.graph.dependencies[node] ?? []).count }
        var ready = MinHeap(plan.order.filter { remaining[$0] == 0 })
        var openNodesPerItem = [Int](repeating: Planner.itemStages.count, count: plan.items.count)
        var workspaces: [Int: ItemWorkspace] = [:]
        var sharedMemo: [String: String] = [:]
        var pendingRecords: [StageRecord] = []
        var done = 0
        let total = plan.order.count
        let limit = max(1, environment.concurrency)

        func flush(force: Bool) async {
            guard !environment.dryRun, !pendingRecords.isEmpty, force || pendingRecords.count >= 64 else { return }
            let batch = pendingRecords
            pendingRecords.removeAll(keepingCapacity: true)
            do {
                try await environment.store.record(batch)
            } catch {
                environment.reporter.note("warning: could not record \(batch.count) finished steps: \(error)")
            }
        }

        func complete(_ finished: Finished) {
            let node = finished.node
            states[node] = finished.state
            if let record = finished.record { pendingRecords.append(record) }
            done += 1
            environment.reporter.finished(node, subject: plan.subject(node), state: finished.state, done: done, total: total)
            if let item = node.item {
                openNodesPerItem[item] -= 1
                if openNodesPerItem[item] == 0 { workspaces[item] = nil }
            }
            for dependent in Set(plan.graph.dependents[node] ?? []) {
                remaining[dependent, default: 1] -= 1
                if remaining[dependent] == 0 { ready.insert(dependent) }
            }
        }

        func prepare(_ node: NodeID) -> Preparation {
            guard let stage = stages[node.stage] else {
                return .finished(.failed("internal error: no stage '\(node.stage.rawValue)' is registered (a bug)"))
            }
            var inputs: [StageName: NodeOutput] = [:]
            var pending = false
            for dependency in (plan.graph.dependencies[node] ?? []) {
                switch states[dependency] {
                case .ran(let output)?, .cached(let output)?: inputs[dependency.stage] = output
                case .planned?: pending = true
                case .waiting?: return .finished(.blocked("awaiting review"))
                case .blocked(let reason)?: return .finished(.blocked(reason))
                case .skipped(let reason)?: return .finished(.skipped(reason))
                case .failed?: return .finished(.blocked("\(dependency.stage.rawValue) failed"))
                case nil: return .finished(.failed("internal error: \(dependency.stage.rawValue) did not finish first (a bug)"))
                }
            }
            if pending { return .finished(stage.stateWhenInputPending) }

            let item = node.item.map { plan.items[$0] }
            let memoKey = "\(node.stage.rawValue)|\(item?.overrides.map(String.init).joined(separator: ",") ?? "-")"
            let shared: String
            if let known = sharedMemo[memoKey] {
                shared = known
            } else {
                shared = stage.sharedParameters(for: item, plan: plan).serialized(canonical: true)
                sharedMemo[memoKey] = shared
            }
            let specific = stage.itemParameters(for: item, environment: environment)
            let parameters = specific == .null ? shared : shared + "\n" + specific.serialized(canonical: true)
            // An item node's inputs are its source bytes (the item's digest) and its upstream outputs.
            var keyInputs = inputs.map { (name: $0.key.rawValue, digest: $0.value.digest) }
            if let item { keyInputs.append((name: "source", digest: item.id)) }
            let key = CacheKey(
                stage: stage.name.rawValue, version: stage.version, parameters: parameters, inputs: keyInputs)
            let workspace: ItemWorkspace?
            if let index = node.item {
                if let existing = workspaces[index] {
                    workspace = existing
                } else {
                    let created = ItemWorkspace()
                    workspaces[index] = created
                    workspace = created
                }
            } else {
                workspace = nil
            }
            let context = NodeContext(
                node: node, plan: plan, inputs: inputs, key: key, environment: environment, workspace: workspace)

            if stage.isCacheable {
                if let record = cacheIndex[key] {
                    let output = NodeOutput(
                        digest: record.outputDigest ?? key.digest, artifactPath: record.artifactPath,
                        artifactStamp: record.artifactStamp, summaryText: record.output)
                    guard let path = record.artifactPath else { return .finished(.cached(output)) }
                    let stamp = FileSystem.stamp(environment.layout.absolute(path))
                    if stamp != nil, stamp == record.artifactStamp { return .finished(.cached(output)) }
                    if stamp != nil { return .work(context, stage: stage, verify: record) }
                }
                if environment.dryRun { return .finished(.planned) }
                return .work(context, stage: stage, verify: nil)
            }
            if let outcome = stage.resolve(context) { return .finished(Self.state(outcome, ran: false)) }
            return .work(context, stage: stage, verify: nil)
        }

        await withTaskGroup(of: Finished.self) { group in
            var running = 0
            while true {
                while running < limit, let node = ready.popMin() {
                    switch prepare(node) {
                    case .finished(let state):
                        complete(Finished(node: node, state: state, record: nil))
                    case .work(let context, let stage, let verify):
                        running += 1
                        group.addTask { await Self.work(context, stage: stage, verify: verify) }
                    }
                }
                if running == 0 { break }
                guard let finished = await group.next() else { break }
                running -= 1
                complete(finished)
                await flush(force: false)
            }
        }
        await flush(force: true)
        return RunReport(plan: plan, states: states, dryRun: environment.dryRun)
    }

    private static func state(_ outcome: StageOutcome, ran: Bool) -> NodeState {
        switch outcome {
        case .done(let output): return ran ? .ran(output) : .cached(output)
        case .waiting(let reason): return .waiting(reason)
        case .skipped(let reason): return .skipped(reason)
        case .wouldRun: return .planned
        }
    }

    private static func work(_ context: NodeContext, stage: any Stage, verify: StageRecord?) async -> Finished {
        let environment = context.environment
        let started = environment.now()
        let clock = ContinuousClock.now
        if let record = verify, let path = record.artifactPath {
            // The artifact's stamp changed: trust it only if its bytes still hash to the recorded digest.
            let absolute = environment.layout.absolute(path)
            if let digest = try? FileSystem.digest(absolute), digest == record.outputDigest {
                let output = NodeOutput(
                    digest: digest, artifactPath: path, artifactStamp: FileSystem.stamp(absolute), summaryText: record.output)
                var refreshed = record
                refreshed.artifactStamp = output.artifactStamp
                return Finished(node: context.node, state: .cached(output), record: environment.dryRun ? nil : refreshed)
            }
            if environment.dryRun { return Finished(node: context.node, state: .planned, record: nil) }
        }
        let item = context.item?.id
        let drop = context.plan.drop
        func milliseconds() -> Int {
            let elapsed = ContinuousClock.now - clock
            return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let outcome = try await stage.run(context)
            var record: StageRecord?
            if stage.isCacheable, case .done(let output) = outcome {
                record = StageRecord(
                    key: context.key, stage: stage.name, itemID: item, drop: drop, status: .succeeded,
                    outputDigest: output.digest, artifactPath: output.artifactPath, artifactStamp: output.artifactStamp,
                    output: output.summary, error: nil, startedAt: started, durationMilliseconds: milliseconds())
            }
            return Finished(node: context.node, state: state(outcome, ran: true), record: record)
        } catch {
            let message = "\(error)"
            let record =
                environment.dryRun
                ? nil
                : StageRecord(
                    key: context.key, stage: stage.name, itemID: item, drop: drop, status: .failed, outputDigest: nil,
                    artifactPath: nil, artifactStamp: nil, output: .null, error: message, startedAt: started,
                    durationMilliseconds: milliseconds())
            return Finished(node: context.node, state: .failed(message), record: record)
        }
    }
}
