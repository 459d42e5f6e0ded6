import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A part of a drop's items has its steps read from their rows once, then from the part's compact copy for as long as
/// no stage run changes (migration 15). What a run hits must be what the rows say: every change to them, by elena-run
/// or by hand, makes the next read go back to the rows.
@Suite struct RunCachePartTests {
    static var backends: [TestBackend] { TestBackend.available + TestBackend.pooled }

    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    /// A successful step of `item` (or of no item), with the fields a hit reads set or left out as asked.
    static func step(
        _ stage: String, item: String?, path: String? = "2_cropped/x.png", stamp: Bool = true, output: Bool = true,
        summary: JSONValue = .object(["format": .string("png"), "width": .int(1024)]), failed: Bool = false
    ) -> StageRecord {
        StageRecord(
            key: CacheKey(stage: stage, version: 1, parameters: "{}", inputs: [("source", Digest.of(item ?? "drop"))]),
            stage: StageName(stage), itemID: item.map(Digest.of), drop: "d", status: failed ? .failed : .succeeded,
            outputDigest: output ? Digest.of("\(stage) of \(item ?? "drop")") : nil, artifactPath: path,
            artifactStamp: stamp ? FileStamp(size: 4_321, mtimeNanoseconds: 1_790_000_000_123_456_789, inode: -7) : nil,
            output: JSONText(summary), error: failed ? "no luck" : nil, startedAt: start, durationMilliseconds: 3)
    }

    /// Steps with every shape a hit can take, over three items, and one the look-up must leave out (another item's,
    /// a failure, a drop-level step).
    static let steps: [StageRecord] = [
        step("ingest", item: "a", path: "1_raw/d/a.png"),
        step("crop", item: "a", path: "2_cropped/d/Élena – ünïcode ✓.png", summary: .object(["box": .array([.int(1), .int(2)])])),
        step("detect", item: "b", path: nil, stamp: false, summary: .object(["faces": .array([])])),
        step("review", item: "b", path: nil, stamp: false, output: false, summary: .null),
        step("ingest", item: "c", path: "1_raw/d/c.png", stamp: false, summary: .string(String(repeating: "long ", count: 400))),
        step("ingest", item: "elsewhere"),
        step("crop", item: "c", failed: true),
        step("similar", item: nil, path: nil),
    ]

    static let items = ["a", "b", "c"].map(Digest.of)

    /// The steps of `items` among `records`, as a hit gives them.
    static func expected(_ records: [StageRecord], items: [Digest] = items) -> [CacheKey: CachedStep] {
        var index: [CacheKey: CachedStep] = [:]
        for record in records where record.status == .succeeded && record.itemID.map(items.contains) == true {
            index[record.key] = CachedStep(record)
        }
        return index
    }

    /// The steps with each summary as its value: PostgreSQL keeps a summary as `jsonb`, which gives it back in its
    /// own layout (its keys in its own order).
    static func values(_ steps: [CacheKey: CachedStep]) -> [CacheKey: CachedStep] {
        steps.mapValues { step in
            var step = step
            step.output = JSONText(text: step.output.value.serialized(canonical: true))
            return step
        }
    }

    static func copies(_ store: SQLRunStore) async throws -> [(part: String, version: Int64)] {
        try await store.database.query("SELECT part, runs_version FROM run_cache_parts ORDER BY part").map {
            ($0.string("part") ?? "", $0.int64("runs_version") ?? -1)
        }
    }

    static func runsVersion(_ store: SQLRunStore) async throws -> Int64 {
        try #require(try await store.database.query("SELECT value FROM ledger_versions WHERE name = 'stage_runs'").first?.int64("value"))
    }

    /// The first read makes the part's copy, at the version the runs are at; the next reads give the same steps.
    /// With the counter's trigger taken away, a row changed by hand goes unseen: the steps came from the copy.
    @Test(arguments: backends)
    func aPartIsReadFromItsCopyWhileNoRunChanges(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            try await store.record(Self.steps)
            #expect(try await Self.copies(store).isEmpty)

            let first = try await store.cacheIndex(items: Self.items)
            #expect(Self.values(first) == Self.values(Self.expected(Self.steps)))
            let copies = try await Self.copies(store)
            #expect(copies.map(\.part) == [RunCachePart.key(items: Self.items).hex])
            #expect(copies.map(\.version) == [try await Self.runsVersion(store)])
            #expect(try await store.cacheIndex(items: Self.items) == first)

            let trigger = backend == .sqlite ? "DROP TRIGGER stage_runs_updated" : "DROP TRIGGER stage_runs_updated ON stage_runs"
            try await store.database.execute(trigger)
            try await store.database.execute("UPDATE stage_runs SET output_digest = ? WHERE stage = 'ingest'", [.digest(Digest.of("other"))])
            #expect(try await store.cacheIndex(items: Self.items) == first, "read from the copy, which the change did not reach")
        }
    }

    /// Every change to the stage runs, recorded by a run or made by hand, is seen by the next read, and the copy made
    /// then replaces the old one.
    @Test(arguments: backends)
    func everyChangeToTheRunsIsSeen(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            var records = Self.steps
            try await store.record(records)
            #expect(Self.values(try await store.cacheIndex(items: Self.items)) == Self.values(Self.expected(records)))

            // A run records a new step, and another replaces one.
            var recropped = Self.step("crop", item: "a", path: "2_cropped/d/a-2.png")
            recropped.outputDigest = Digest.of("a new crop")
            let failedBefore = Self.step("crop", item: "c", path: "2_cropped/d/c.png")
            try await store.record([recropped, failedBefore])
            records[1] = recropped
            records[6] = failedBefore
            #expect(Self.values(try await store.cacheIndex(items: Self.items)) == Self.values(Self.expected(records)))

            // Changed and removed by hand.
            try await store.database.execute("UPDATE stage_runs SET status = 'failed' WHERE cache_key = ?", [.digest(records[0].key.digest)])
            records[0].status = .failed
            #expect(Self.values(try await store.cacheIndex(items: Self.items)) == Self.values(Self.expected(records)))
            try await store.database.execute("DELETE FROM stage_runs WHERE cache_key = ?", [.digest(records[2].key.digest)])
            records.remove(at: 2)
            #expect(Self.values(try await store.cacheIndex(items: Self.items)) == Self.values(Self.expected(records)))

            // One copy, made at the version the runs are at now.
            #expect(try await Self.copies(store).map(\.version) == [try await Self.runsVersion(store)])
            #expect(Self.values(try await store.cacheIndex(items: Self.items)) == Self.values(Self.expected(records)))
        }
    }

    /// Parts are kept apart: each gives its own items' steps, however the items are split.
    @Test(arguments: backends)
    func eachPartHasItsOwnCopy(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            try await store.record(Self.steps)
            let parts = [Array(Self.items[0..<2]), Array(Self.items[2...]), Array(Self.items.reversed())]
            for _ in 0..<2 {
                for part in parts {
                    let read = try await store.cacheIndex(items: part)
                    #expect(Self.values(read) == Self.values(Self.expected(Self.steps, items: part)))
                }
            }
            #expect(try await Self.copies(store).count == 3)
        }
    }

    /// A copy that does not read (damaged, cut short, of another format) is no hit: the rows are read, and the copy
    /// is made again.
    @Test(arguments: backends)
    func aDamagedCopyIsReadFromTheRows(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            try await store.record(Self.steps)
            // What the rows give (PostgreSQL's summaries in its own layout), and the copy made of it.
            let expected = try await store.cacheIndex(items: Self.items)
            #expect(Self.values(expected) == Self.values(Self.expected(Self.steps)))
            let whole = RunCachePart.encode(expected)
            for damaged in [[UInt8](), Array(whole.prefix(whole.count - 1)), [UInt8](repeating: 0xFF, count: 64), whole + [0]] {
                try await store.database.execute("UPDATE run_cache_parts SET steps = ?", [.bytes(damaged)])
                #expect(try await store.cacheIndex(items: Self.items) == expected)
                let stored = try await store.database.query("SELECT steps FROM run_cache_parts").first?.bytes("steps")
                #expect(stored.flatMap(RunCachePart.decode) == expected, "made again")
            }
        }
    }

    /// A dry run's ledger (read-only) is read with its copies, but none is written into it.
    @Test func aReadOnlyLedgerIsLeftAsItWas() async throws {
        let folder = try TemporaryDirectory("elena-parts")
        defer { folder.remove() }
        let url = DatabaseURL(sqlitePath: folder("elena.db"))
        let writer = try await SQLRunStore.open(url, readOnly: false)
        try await writer.record(Self.steps)
        await writer.close()

        let reader = try await SQLRunStore.open(url, readOnly: true)
        #expect(try await reader.cacheIndex(items: Self.items) == Self.expected(Self.steps))
        await reader.close()
        let after = try await SQLRunStore.open(url, readOnly: false)
        #expect(try await Self.copies(after).isEmpty)
        _ = try await after.cacheIndex(items: Self.items)
        await after.close()

        let copied = try await SQLRunStore.open(url, readOnly: true)
        #expect(try await Self.copies(copied).count == 1)
        #expect(try await copied.cacheIndex(items: Self.items) == Self.expected(Self.steps))
        await copied.close()
    }

    /// The compact form gives back exactly the steps put in, and any cut of it reads as nothing.
    @Test func theCompactFormReadsBackAndNoCutOfItDoes() throws {
        let steps = Self.expected(Self.steps)
        let bytes = RunCachePart.encode(steps)
        #expect(RunCachePart.decode(bytes) == steps)
        #expect(RunCachePart.decode(RunCachePart.encode([:])) == [:])
        for length in 0..<bytes.count { #expect(RunCachePart.decode(Array(bytes.prefix(length))) == nil) }
    }
}
