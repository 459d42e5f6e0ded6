import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The run cache's contract, the same on the in-memory cache the engine tests use and on the real databases: a
/// fake that drifted from the store would make those tests prove nothing.
@Suite struct RunCacheContractTests {
    static func with(_ kind: LedgerKind, _ body: (any RunCache) async throws -> Void) async throws {
        switch kind {
        case .memory: try await body(MemoryRunCache())
        case .sqlite, .postgres, .pooler: try await LedgerKind.with(kind) { try await body($0) }
        }
    }

    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    static func run(_ name: String, item: String, drop: String = "d1", failed: Bool = false, at second: Double) -> StageRecord {
        StageRecord(
            key: CacheKey(stage: name, version: 1, parameters: "{}", inputs: [("source", Digest.of(item))]),
            stage: StageName(name), itemID: Digest.of(item), drop: drop, status: failed ? .failed : .succeeded,
            outputDigest: failed ? nil : Digest.of("\(name) \(item)"), artifactPath: failed ? nil : "2_cropped/\(item).jpg",
            artifactStamp: failed ? nil : FileStamp(size: 10, mtimeNanoseconds: 1_000_000_123, inode: 77),
            output: failed ? .null : JSONText(.object(["faces": .int(1)])), error: failed ? "no luck" : nil,
            startedAt: start.addingTimeInterval(second), durationMilliseconds: 5)
    }

    @Test(arguments: LedgerKind.available)
    func successesAreIndexedAndFailuresListedOldestFirst(kind: LedgerKind) async throws {
        try await Self.with(kind) { cache in
            let ingest = Self.run("ingest", item: "a", at: 0)
            let crop = Self.run("crop", item: "a", at: 2)
            let broken = Self.run("detect", item: "a", failed: true, at: 1)
            let elsewhere = Self.run("ingest", item: "b", drop: "d2", failed: true, at: 3)
            try await cache.record([crop, broken, ingest, elsewhere])

            let index = try await cache.cacheIndex(items: [Digest.of("a")])
            #expect(Set(index.keys) == [ingest.key, crop.key])
            let hit = try #require(index[crop.key])
            #expect(hit.outputDigest == crop.outputDigest && hit.artifactPath == crop.artifactPath)
            #expect(hit.artifactStamp == crop.artifactStamp)
            #expect(hit.output.value["faces"]?.intValue == 1)

            #expect(try await cache.failures(drop: "d1").map(\.key) == [broken.key])
            #expect(try await cache.failures(drop: "d1").first?.error == "no luck")
            #expect(try await cache.runs(itemID: Digest.of("a")).map(\.key) == [ingest.key, broken.key, crop.key])
        }
    }

    @Test(arguments: LedgerKind.available)
    func aRecordReplacesTheOneWithItsKey(kind: LedgerKind) async throws {
        try await Self.with(kind) { cache in
            let failed = Self.run("detect", item: "a", failed: true, at: 0)
            try await cache.record([failed])
            var fixed = Self.run("detect", item: "a", at: 5)
            fixed.outputDigest = Digest.of("second try")
            try await cache.record([fixed])
            #expect(try await cache.failures(drop: "d1").isEmpty)
            #expect(try await cache.cacheIndex(items: [Digest.of("a")])[failed.key]?.outputDigest == Digest.of("second try"))
            #expect(try await cache.runs(itemID: Digest.of("a")).count == 1)
        }
    }

    /// A drop's look-ups read what the drop can hit and nothing else: the runs of its items, and by key the steps
    /// of its drop-level nodes (which belong to no item) and generation's jobs.
    @Test(arguments: LedgerKind.available)
    func lookUpsAreScopedToTheDrop(kind: LedgerKind) async throws {
        try await Self.with(kind) { cache in
            let mine = Self.run("crop", item: "a", at: 0)
            let other = Self.run("crop", item: "b", drop: "d2", at: 1)
            var outbox = Self.run("outbox", item: "-", at: 2)
            outbox.itemID = nil
            var generated = Self.run("generate", item: "-", at: 3)
            generated.itemID = nil
            let ingestOfB = Self.run("ingest", item: "b", drop: "d2", at: 4)
            try await cache.record([mine, other, outbox, generated, ingestOfB])

            // An item's look-up gives its own runs; a drop-level run is found by its key alone.
            let index = try await cache.cacheIndex(items: [Digest.of("a")])
            #expect(Set(index.keys) == [mine.key])
            let dropLevel = try await cache.cacheRecords(keys: [outbox.key])
            #expect(dropLevel[outbox.key]?.outputDigest == outbox.outputDigest && dropLevel[outbox.key]?.output.value == outbox.output.value)
            #expect(try await cache.cacheIndex(items: []).isEmpty)
            let both = try await cache.cacheIndex(items: [Digest.of("a"), Digest.of("b")])
            #expect(Set(both.keys) == [mine.key, other.key, ingestOfB.key])

            let byKey = try await cache.cacheRecords(keys: [generated.key, other.key, CacheKey(trusted: Digest.of("none"))])
            #expect(Set(byKey.keys) == [generated.key, other.key])
            #expect(byKey[generated.key]?.output.value["faces"]?.intValue == 1)
        }
    }

    /// Many items are looked up in one statement, or, when they are most of the table, by reading it in one pass:
    /// the same answer either way.
    @Test(arguments: LedgerKind.available)
    func manyItemsAreLookedUpEitherWay(kind: LedgerKind) async throws {
        try await Self.with(kind) { cache in
            let runs = (0..<3_000).map { Self.run("ingest", item: "i\($0)", at: Double($0)) }
            try await cache.record(runs)
            for wanted in [
                (0..<3_000).filter { $0 % 3 != 0 }.map { Digest.of("i\($0)") },  // 2,000: most of the table
                (0..<3_000).filter { $0 % 7 == 0 }.map { Digest.of("i\($0)") },  // 429: looked up
            ] {
                let index = try await cache.cacheIndex(items: wanted)
                #expect(index.count == wanted.count)
                let wantedSet = Set(wanted)
                #expect(Set(index.keys) == Set(runs.filter { $0.itemID.map(wantedSet.contains) == true }.map(\.key)))
            }
        }
    }
}
