import ElenaCore
import ElenaEngine
import ElenaTestKit
import Foundation
import Testing

/// The generic scheduler with stand-in stages and the in-memory run cache (no database, no image): failures block
/// only their own item's downstream nodes.
@Suite struct GraphRunnerTests {
    struct Recorder: Stage {
        let name: StageName
        var failOn: String?
        var version: Int { 1 }
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            if let failOn, context.item?.name == failOn { throw StageError("boom on \(failOn)") }
            return .done(NodeOutput(digest: Digest.of("\(name.rawValue):\(context.item?.name ?? "-")")))
        }
    }

    static let manifest = Manifest(
        drop: "g", source: SourceSpec(dir: "."), crop: CropSpec(strategy: .keep), publish: PublishSpec(to: .folder))

    /// Source files of these names, each with bytes of its own.
    static func files(_ names: [String]) -> [SourceFile] {
        names.map { SourceFile(path: "/x/" + $0, relativePath: $0, size: 1, digest: Digest.of($0)) }
    }

    /// A run in a library of its own under `folder`, recording in `cache`.
    static func environment(_ folder: TemporaryDirectory, cache: MemoryRunCache, concurrency: Int) -> RunEnvironment {
        RunEnvironment(
            layout: LibraryLayout(root: folder("lib")), cache: cache, dryRun: false, concurrency: concurrency,
            reporter: SilentReporter())
    }

    /// What a reader was asked for, in order.
    actor Asked {
        var parts: [[Digest]] = []
        var keys: [[CacheKey]] = []
        func note(_ items: [Digest]) { parts.append(items) }
        func note(_ keys: [CacheKey]) { self.keys.append(keys) }
    }

    /// The runner reads the run cache a part of the items at a time, and each drop-level step by its key: every
    /// part is asked for once, the first first (the next two are read ahead at once, in either order), and a rerun
    /// finds every step through its part or its key.
    @Test func theRunCacheIsReadAPartOfTheItemsAtATime() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let pipeline = Pipeline([
            .drop(Recorder(name: .outbox)), .item(Recorder(name: .ingest)), .item(Recorder(name: .crop), reads: [.ingest]),
            .item(Recorder(name: .publish), reads: [.crop], after: [.outbox]),
        ])
        let plan = try Planner.plan(Self.manifest, files: Self.files((0..<5).map { "\($0).png" }), pipeline: pipeline.shape)
        let environment = Self.environment(folder, cache: cache, concurrency: 2)
        let asked = Asked()
        let reader = RunCacheReader(
            partSize: 2,
            read: { items in
                await asked.note(items)
                return try await cache.cacheIndex(items: items)
            },
            steps: { keys in
                await asked.note(keys)
                return try await RunCacheReader.store(cache).steps(keys)
            })
        let first = await Runner(pipeline).run(plan, environment: environment, cache: reader)
        #expect(first.count(.crop, "ran") == 5 && first.count(.outbox, "ran") == 1)
        let again = await Runner(pipeline).run(plan, environment: environment, cache: reader)
        for stage in [StageName.outbox, .ingest, .crop, .publish] {
            #expect(again.count(stage, "cached") == (stage == .outbox ? 1 : 5), "\(stage): \(again.counts)")
        }
        let ids = plan.items.map(\.id)
        let parts = [Array(ids[0..<2]), Array(ids[2..<4]), Array(ids[4..<5])]
        let asks = await asked.parts
        #expect(asks.count == 6, "\(asks)")
        for run in [asks.prefix(3), asks.dropFirst(3)] {
            #expect(run.first == parts[0] && Set(run) == Set(parts) && run.count == 3, "each part once per run: \(asks)")
        }
        // The outbox step is asked for by its key, once a run: none was recorded before the first.
        let outboxKeys = await asked.keys
        let recorded = try await cache.runs(matching: { $0.stage == .outbox }).map(\.key)
        #expect(outboxKeys.count == 2 && recorded.count == 1 && outboxKeys.allSatisfy { $0 == recorded }, "\(outboxKeys)")
    }

    /// A part that cannot be read stops the run (its steps would otherwise be done again), as a ledger that goes
    /// away does; what was read before is settled from the cache.
    @Test func aPartThatCannotBeReadStopsTheRun() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let pipeline = Pipeline([.item(Recorder(name: .ingest)), .item(Recorder(name: .crop), reads: [.ingest])])
        let plan = try Planner.plan(Self.manifest, files: Self.files((0..<4).map { "\($0).png" }), pipeline: pipeline.shape)
        let environment = Self.environment(folder, cache: cache, concurrency: 1)
        _ = await Runner(pipeline).run(plan, environment: environment, cacheIndex: [:])
        let secondPart = Set(plan.items[2...].map(\.id))
        let reader = RunCacheReader(
            partSize: 2,
            read: { items in
                if items.contains(where: secondPart.contains) { throw StageError("the database went away") }
                return try await cache.cacheIndex(items: items)
            }, steps: RunCacheReader.store(cache).steps)
        let report = await Runner(pipeline).run(plan, environment: environment, cache: reader)
        #expect(report.stopped == "the run cache could not be read: the database went away")
        #expect(report.count(.crop, "cached") == 2, "\(report.counts)")
        #expect(report.count(.crop, "ran") == 0, "nothing is done again for want of its record")
        #expect(report.count(.ingest, "blocked") == 2)
    }

    /// A drop-level step that cannot be read stops the run as a part that cannot be read does: the node is not done
    /// again for want of its record, nor is anything after it.
    @Test func aDropLevelStepThatCannotBeReadStopsTheRun() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let pipeline = Pipeline([
            .drop(Recorder(name: .outbox)), .item(Recorder(name: .ingest)),
            .item(Recorder(name: .publish), reads: [.ingest], after: [.outbox]),
        ])
        let plan = try Planner.plan(Self.manifest, files: Self.files(["a.png", "b.png"]), pipeline: pipeline.shape)
        let environment = Self.environment(folder, cache: cache, concurrency: 1)
        let first = await Runner(pipeline).run(plan, environment: environment, cacheIndex: [:])
        #expect(first.count(.outbox, "ran") == 1 && first.count(.publish, "ran") == 2)
        let reader = RunCacheReader(
            partSize: 2, read: RunCacheReader.store(cache).read,
            steps: { _ in throw StageError("the database went away") })
        let report = await Runner(pipeline).run(plan, environment: environment, cache: reader)
        #expect(report.stopped == "the run cache could not be read: the database went away")
        #expect(report.count(.outbox, "ran") == 0 && report.count(.outbox, "blocked") == 1, "\(report.counts)")
        #expect(report.count(.ingest, "cached") == 2, "what was read is settled from the cache: \(report.counts)")
        #expect(report.count(.publish, "ran") == 0 && report.count(.publish, "blocked") == 2, "\(report.counts)")
    }

    /// A stage that settles the nodes of items named "settled…" at once, and notes whose parameters a key asked.
    struct Settling: Stage {
        let name: StageName
        let cacheable: Bool
        let asked: Locked<[String]>
        var version: Int { 1 }
        var isCacheable: Bool { cacheable }
        var resolvesBeforeCache: Bool { cacheable }
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }
        func itemParameters(for item: PlannedItem?) -> JSONValue {
            asked.withLock { $0.append(item?.name ?? "-") }
            return .null
        }
        func resolve(_ context: NodeContext) -> StageOutcome? {
            if context.workspace != nil { asked.withLock { $0.append("a workspace for \(context.item?.name ?? "-")") } }
            guard context.item?.name.hasPrefix("settled") == true else { return nil }
            return .done(NodeOutput(digest: Digest.of("settled")))
        }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            .done(NodeOutput(digest: Digest.of("\(name.rawValue):\(context.key.digest.hex)")))
        }
    }

    /// A node its stage settles at once (a cacheable stage that resolves before the cache, like detection a
    /// strategy does not need, and a gate whose decision stands) works out no cache key: its parameters are never
    /// asked, and no workspace is made for it. Nodes that work get their key (their stage reads it).
    @Test func aNodeSettledAtOnceWorksOutNoKey() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let detectAsked = Locked<[String]>([]), reviewAsked = Locked<[String]>([])
        let pipeline = Pipeline([
            .item(Recorder(name: .ingest)),
            .item(Settling(name: .detect, cacheable: true, asked: detectAsked), reads: [.ingest]),
            .item(Settling(name: .review, cacheable: false, asked: reviewAsked), reads: [.detect]),
        ])
        let names = ["settled-1.png", "settled-2.png", "works.png"]
        let plan = try Planner.plan(Self.manifest, files: Self.files(names), pipeline: pipeline.shape)
        let report = await Runner(pipeline).run(
            plan, environment: Self.environment(folder, cache: MemoryRunCache(), concurrency: 2), cacheIndex: [:])
        #expect(report.count(.detect, "cached") == 2 && report.count(.detect, "ran") == 1, "\(report.counts)")
        #expect(report.count(.review, "cached") == 2 && report.count(.review, "ran") == 1, "\(report.counts)")
        #expect(detectAsked.withLock { $0 } == ["works.png"])
        #expect(reviewAsked.withLock { $0 } == ["works.png"])
    }

    @Test func aFailureBlocksOnlyItsItem() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        // A pipeline of stand-ins, declared here: the engine knows no stage of the product.
        let pipeline = Pipeline([
            .drop(Recorder(name: .outbox)), .item(Recorder(name: .ingest)), .item(Recorder(name: .detect), reads: [.ingest]),
            .item(Recorder(name: .crop, failOn: "b.png"), reads: [.ingest, .detect]),
            .item(Recorder(name: .review), reads: [.crop]), .item(Recorder(name: .publish), reads: [.review], after: [.outbox]),
        ])
        let plan = try Planner.plan(Self.manifest, files: Self.files(["a.png", "b.png", "c.png"]), pipeline: pipeline.shape)
        let environment = Self.environment(folder, cache: cache, concurrency: 2)
        let report = await Runner(pipeline).run(plan, environment: environment, cacheIndex: [:])
        let b = try #require(plan.items.firstIndex { $0.name == "b.png" })
        guard case .failed(let message)? = report.states[NodeID(.crop, item: b)] else {
            Issue.record("crop of b should fail")
            return
        }
        #expect(message == "boom on b.png")
        guard case .blocked(let reason)? = report.states[NodeID(.publish, item: b)] else {
            Issue.record("publish of b should be blocked")
            return
        }
        #expect(reason == .failed(.crop))
        #expect(reason.description == "crop failed")
        #expect(report.count(.publish, "ran") == 2)
        #expect(report.exitCode == 1)
        // The successful runs were recorded: a second run finds them in the cache.
        let index = try await cache.cacheIndexWithDropSteps(for: plan)
        let again = await Runner(pipeline).run(plan, environment: environment, cacheIndex: index)
        #expect(again.count(.crop, "cached") == 2)
        #expect(again.count(.crop, "failed") == 1)
    }

    /// Hands on a number, recorded as `{"n": …}`; a record without one no longer reads.
    struct Producer: Stage {
        let name = StageName("produce")
        var version: Int { 1 }
        let runs = Locked(0)
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            runs.withLock { $0 += 1 }
            let number = context.item?.name.count ?? 0
            return .done(NodeOutput(digest: Digest.of("n\(number)"), summary: .object(["n": .int(number)]), value: number))
        }
        func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? {
            guard let number = output.summary.value["n"]?.intValue else { throw StageError("no n") }
            return number
        }
    }

    /// Reads the producer's number as a typed value; its parameter lets a test make it run again alone.
    struct Consumer: Stage {
        let name = StageName("consume")
        var version: Int { 1 }
        var setting: Int
        let seen = Locked<[Int]>([])
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .int(setting) }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            let number = try context.input(StageName("produce"), as: Int.self)
            seen.withLock { $0.append(number) }
            return .done(NodeOutput(digest: Digest.of("c\(number)-\(setting)")))
        }
    }

    @Test func aRecordedOutputThatNoLongerReadsIsRecomputedNotDefaulted() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let environment = Self.environment(folder, cache: cache, concurrency: 1)
        let producer = Producer()
        func pipeline(_ consumer: Consumer) -> Pipeline {
            Pipeline([.item(producer), .item(consumer, reads: [StageName("produce")])])
        }
        let first = Consumer(setting: 1)
        let plan = try Planner.plan(Self.manifest, files: Self.files(["abc.png"]), pipeline: pipeline(first).shape)
        _ = await Runner(pipeline(first)).run(plan, environment: environment, cacheIndex: [:])
        #expect(first.seen.withLock { $0 } == [7])

        // The consumer changes, the producer does not: its record is a hit, read back into the number.
        var index = try await cache.cacheIndexWithDropSteps(for: plan)
        let second = Consumer(setting: 2)
        let reread = await Runner(pipeline(second)).run(plan, environment: environment, cacheIndex: index)
        #expect(reread.count(StageName("produce"), "cached") == 1)
        #expect(second.seen.withLock { $0 } == [7], "the recorded number, read back")
        #expect(producer.runs.withLock { $0 } == 1)

        // The producer's record no longer reads (written by another version): it runs again, never a default.
        let (key, _) = try await Self.spoilProducerRecord(in: &index, cache: cache)
        let third = Consumer(setting: 3)
        let recomputed = await Runner(pipeline(third)).run(plan, environment: environment, cacheIndex: index)
        #expect(producer.runs.withLock { $0 } == 2, "the producer ran again")
        #expect(recomputed.count(StageName("produce"), "ran") == 1)
        #expect(recomputed.count(StageName("consume"), "ran") == 1)
        #expect(third.seen.withLock { $0 } == [7])
        // And its fresh record replaced the unreadable one.
        let stored = try await cache.cacheIndexWithDropSteps(for: plan)[key]
        #expect(stored?.output.value["n"]?.intValue == 7)
    }

    /// Rewrites the producer's record in `index` as another version would have left it (no `n`: it no longer reads);
    /// its key, and every record the index held.
    static func spoilProducerRecord(
        in index: inout [CacheKey: CachedStep], cache: MemoryRunCache
    ) async throws -> (key: CacheKey, records: [CacheKey: StageRecord]) {
        let records = try await cache.cacheRecords(keys: Array(index.keys))
        let key = try #require(records.first { $0.value.stage == StageName("produce") }?.key)
        index[key]?.output = JSONText(text: #"{"old":true}"#)
        return (key, records)
    }

    /// Collects every item's number (a drop-level stage), read back from the producers' records.
    struct Collector: Stage {
        let name = StageName("collect")
        var version: Int { 1 }
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            let numbers = try context.collected(StageName("produce"), as: Int.self).map(\.value)
            return .done(NodeOutput(digest: Digest.of("sum\(numbers.reduce(0, +))")))
        }
    }

    /// An item's part is handed on once its nodes are settled; when a collector later finds that item's record no
    /// longer reads and makes it again, the item is handed on again with what it is now.
    @Test func anItemMadeAgainForACollectorIsHandedOnAgain() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let environment = Self.environment(folder, cache: cache, concurrency: 1)
        let producer = Producer()
        let pipeline = Pipeline([.item(producer), .drop(Collector(), collects: [StageName("produce")])])
        let plan = try Planner.plan(Self.manifest, files: Self.files(["abc.png"]), pipeline: pipeline.shape)
        _ = await Runner(pipeline).run(plan, environment: environment, cacheIndex: [:])
        var index = try await cache.cacheIndexWithDropSteps(for: plan)
        let (_, records) = try await Self.spoilProducerRecord(in: &index, cache: cache)
        // The collector's own record goes too, so it runs and reads the producer's number.
        for (other, record) in records where record.stage == StageName("collect") { index[other] = nil }

        let handedOn = Locked<[(items: Range<Int>, produce: String?)]>([])
        let report = await Runner(pipeline).run(plan, environment: environment, cache: .whole(index)) { part in
            handedOn.withLock { $0.append((part.items, part[NodeID(StageName("produce"), item: 0)]?.word)) }
        }
        #expect(report.count(StageName("produce"), "ran") == 1)
        #expect(report.count(StageName("collect"), "ran") == 1)
        let seen = handedOn.withLock { $0 }
        #expect(seen.map(\.items) == [0..<1, 0..<1], "\(seen)")
        #expect(seen.map(\.produce) == ["cached", "ran"], "\(seen)")
    }

    /// A stage that counts the items it worked on.
    struct Counter: Stage {
        let name = StageName.ingest
        let runs = Locked(0)
        var version: Int { 1 }
        func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }
        func run(_ context: NodeContext) async throws -> StageOutcome {
            runs.withLock { $0 += 1 }
            return .done(NodeOutput(digest: Digest.of(context.item?.name ?? "-")))
        }
    }

    /// The runner waits for whoever takes its settled parts before it settles more: a taker that falls behind holds
    /// the run back instead of letting parts (each a copy of its nodes' states) pile up. While the taker holds part
    /// k, no item of a later part has started.
    @Test func theRunnerWaitsForTheTakerOfItsSettledParts() async throws {
        let folder = try TemporaryDirectory("elena-graph")
        defer { folder.remove() }
        let cache = MemoryRunCache()
        let counter = Counter()
        let pipeline = Pipeline([.item(counter)])
        let plan = try Planner.plan(Self.manifest, files: Self.files((0..<6).map { "\($0).png" }), pipeline: pipeline.shape)
        let reader = RunCacheReader.store(cache, partSize: 2)
        let seen = Locked<[(part: Range<Int>, worked: Int)]>([])
        let report = await Runner(pipeline).run(plan, environment: Self.environment(folder, cache: cache, concurrency: 1), cache: reader) {
            part in
            try? await Task.sleep(for: .milliseconds(30))
            seen.withLock { $0.append((part.items, counter.runs.withLock { $0 })) }
        }
        #expect(report.count(.ingest, "ran") == 6)
        let taken = seen.withLock { $0 }
        #expect(taken.map(\.part) == [0..<2, 2..<4, 4..<6], "\(taken)")
        #expect(taken.map(\.worked) == [2, 4, 6], "nothing of the next part worked while the taker held one: \(taken)")
    }
}
