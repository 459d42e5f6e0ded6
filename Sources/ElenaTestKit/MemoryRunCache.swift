package import ElenaCore
import Foundation

/// The run cache in memory: the engine's only port, for tests of the runner and of stages that need no ledger.
/// It keeps the contract `SQLRunStore` keeps (`RunCacheContractTests` runs the same cases on both): a record
/// replaces the one with its key; the index holds successes; failures and runs come oldest first.
package final class MemoryRunCache: RunCache {
    private let records = Locked<[CacheKey: StageRecord]>([:])

    /// An empty cache.
    package init() {}

    package func cacheIndex(items: [Digest]) async throws -> [CacheKey: CachedStep] {
        let items = Set(items)
        return records.withLock { records in
            records.filter { _, record in
                guard record.status == .succeeded, let item = record.itemID else { return false }
                return items.contains(item)
            }.mapValues(CachedStep.init)
        }
    }

    package func cacheRecords(keys: [CacheKey]) async throws -> [CacheKey: StageRecord] {
        records.withLock { records in
            var found: [CacheKey: StageRecord] = [:]
            for key in keys { if let record = records[key], record.status == .succeeded { found[key] = record } }
            return found
        }
    }

    package func record(_ runs: [StageRecord]) async throws {
        records.withLock { records in
            for run in runs { records[run.key] = run }
        }
    }

    package func failures(drop: String) async throws -> [StageRecord] {
        oldestFirst { $0.status == .failed && $0.drop == drop }
    }

    package func runs(itemID: Digest) async throws -> [StageRecord] { oldestFirst { $0.itemID == itemID } }

    /// The records `matching` keeps, oldest first.
    package func runs(matching: (StageRecord) -> Bool) async throws -> [StageRecord] { oldestFirst(matching) }

    private func oldestFirst(_ matching: (StageRecord) -> Bool) -> [StageRecord] {
        records.withLock { $0.values.filter(matching) }.sorted { $0.startedAt < $1.startedAt }
    }
}

extension RunCache {
    /// Every run of a plan's items at once (tests look into the cache with it; the runner reads a part of the items
    /// at a time).
    package func cacheIndex(for plan: DropPlan) async throws -> [CacheKey: CachedStep] {
        try await cacheIndex(items: plan.items.map(\.id))
    }
}

extension MemoryRunCache {
    /// Every run a plan's graph can hit at once: its items' runs and every successful run of its drop-level stages
    /// (tests hand it to the runner whole). A name of its own: `cacheIndex(for:)` of any run cache gives the items'
    /// runs alone, and one name for both made the answer depend on the cache's static type.
    package func cacheIndexWithDropSteps(for plan: DropPlan) async throws -> [CacheKey: CachedStep] {
        let stages = Set(plan.graph.head + plan.graph.tail)
        var index = try await cacheIndex(items: plan.items.map(\.id))
        for record in try await runs(matching: { $0.itemID == nil && $0.status == .succeeded && stages.contains($0.stage) }) {
            index[record.key] = CachedStep(record)
        }
        return index
    }
}
