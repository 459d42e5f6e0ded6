import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The same behaviour on a real SQLite file and a real PostgreSQL database, and, for what a drop needs whatever its
/// target (`LibraryLedger`), on the in-memory `MemoryLedger` the session tests can use instead.
@Suite struct StoreContractTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    func item(_ name: String, drop: String = "d1") -> ItemRecord {
        ItemRecord(
            id: Digest.of(name), drop: drop, originalName: name, originalPath: "/src/\(name)", rawPath: "1_raw/\(drop)/\(name)",
            status: .ingested, vault: "v", tags: ["a", "b"], priceCents: 1200, width: 10, height: 20,
            lineage: .object(["seed": .int(7)]), createdAt: Self.now, updatedAt: Self.now)
    }

    /// A picture's and its crop's fingerprints made from `seed` (the crop's from `seed + 100`), or the picture's alone.
    func prints(_ seed: UInt8, crop: Bool = true) -> ItemFingerprints {
        func picture(_ seed: UInt8) -> PictureFingerprint {
            PictureFingerprint(
                structure: Fingerprint(kind: .phash, bytes: (0..<8).map { seed &+ UInt8($0) }),
                colour: Fingerprint(kind: .chroma, bytes: (0..<32).map { seed &* 3 &+ UInt8($0) }))
        }
        return ItemFingerprints(picture: picture(seed), crop: crop ? picture(seed &+ 100) : nil)
    }

    @Test(arguments: TestBackend.available)
    func migrationsAreIdempotentAndRecorded(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, database in
            let again = try await SQLRunStore.open(database.url, readOnly: false)
            let versions = try await Migrator.appliedVersions(again.database)
            await again.close()
            #expect(versions == Set(1...Migrator.latestVersion))
            let rows = try await store.database.query("SELECT version, name FROM schema_migrations")
            #expect(rows.count == Migrator.latestVersion)
            #expect(rows.first?.string("name") == "0001_init")
        }
    }

    /// A text column holding a digest's 64 lower-case hex characters is read as the digest (no string made), and
    /// reads back as the same text; any other text, upper-case hex among it, stays text exactly as stored.
    @Test(arguments: TestBackend.available)
    func digestTextIsReadAsADigestAndBackAsTheSameText(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            let digest = Digest.of("picture")
            // The last: 64 decimal digits, hex as well, still read as the number they spell.
            let number = String(repeating: "1", count: 64)
            let texts = [digest.hex, digest.hex.uppercased(), String(digest.hex.dropLast()) + "g", digest.hex + "0", number]
            for (index, text) in texts.enumerated() {
                try await store.database.execute(
                    "INSERT INTO drops (name, manifest_path, first_run_at, last_run_at) VALUES (?, ?, ?, ?)",
                    [.text("d\(index)"), .text(text), .date(Date(timeIntervalSince1970: 0)), .date(Date(timeIntervalSince1970: 0))])
            }
            let rows = try await store.database.query("SELECT name, manifest_path FROM drops ORDER BY name")
            #expect(rows.map { $0.string("manifest_path") } == texts)
            #expect(rows.map { $0.digest("manifest_path") } == [digest, digest, nil, nil, Digest(hex: number)])
            #expect(rows.map { $0["manifest_path"] == .digest(digest) } == [true, false, false, false, false])
            #expect(rows.last?.double("manifest_path") == Double(number))
            // A digest bound is stored as its hex text.
            let bound = try await store.database.query("SELECT CAST(? AS TEXT) AS bound", [.digest(digest)])
            #expect(bound.first?["bound"] == .digest(digest))
            #expect(bound.first?.string("bound") == digest.hex)
        }
    }

    /// Every run of a drop whose items wait reads the library's approved and published pictures' structures: from
    /// their index, not a scan of every item (a 500-item drop in a library of 100,000 spent 160 ms of its 230 ms no-op
    /// on that scan). (The index holds the integers too: worked out from the texts on each read, they cost 1.5 s,
    /// which `make bench` shows, not this test.)
    @Test func theDecidedPicturesAreReadThroughAnIndex() async throws {
        // The store that ran the migration: its reading connections plan with the index too.
        try await TestDatabase.withStore(.sqlite) { store, _ in
            let plan = try await store.database.query("EXPLAIN QUERY PLAN " + SQLRunStore.decidedStructuresQuery)
            let steps = plan.compactMap { $0.string("detail") }
            #expect(steps.contains { $0.contains("USING INDEX items_decided_structures") }, "the query plan: \(steps)")
            #expect(!steps.contains { $0.hasPrefix("SCAN items") }, "the query plan: \(steps)")
        }
    }

    /// Every run reads the stat cache of its source folder through an index, not a scan of the library's entries (35
    /// ms of a 500-item drop's no-op in a library of 100,000 on SQLite; on PostgreSQL 18 ms beside 20,000): on SQLite
    /// the primary key's, on PostgreSQL the paths' index in byte order. PostgreSQL's planner is asked once it knows the
    /// table holds other folders' entries too (for a table of a few rows a scan is its best plan).
    @Test(arguments: TestBackend.available)
    func aFoldersStatEntriesAreReadThroughAnIndex(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            let stamp = FileStamp(size: 5, mtimeNanoseconds: 1, inode: 2)
            let query = SQLRunStore.statEntriesQuery(prefix: "/a/src/", dialect: store.database.dialect)
            switch backend {
            case .sqlite:
                let plan = try await store.database.query(SQLStatement("EXPLAIN QUERY PLAN " + query.sql, query.binds))
                let steps = plan.compactMap { $0.string("detail") }
                #expect(steps.contains { $0.hasPrefix("SEARCH file_stats USING INDEX") }, "the query plan: \(steps)")
            case .postgres, .pooler:
                try await store.saveStatEntries(
                    (0..<3_000).map { StatEntry(path: "/a/other\($0 % 30)/\($0).png", stamp: stamp, digest: Digest.of("\($0)")) }
                        + [StatEntry(path: "/a/src/x.png", stamp: stamp, digest: Digest.of("x"))])
                try await store.database.execute("ANALYZE file_stats")
                let plan = try await store.database.query(SQLStatement("EXPLAIN " + query.sql, query.binds))
                let steps = plan.compactMap { $0.string("QUERY PLAN") }
                #expect(steps.contains { $0.contains("Index") && $0.contains("file_stats_path_bytes") }, "the query plan: \(steps)")
                #expect(!steps.contains { $0.contains("Seq Scan") }, "the query plan: \(steps)")
                #expect(try await store.statEntries(prefix: "/a/src/").keys.sorted() == ["/a/src/x.png"])
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aDatabaseNewerThanTheBinaryIsRefused(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, database in
            try await store.database.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [.int(999), .text("0999_future"), .text("2030-01-01T00:00:00Z")])
            let error = await #expect(throws: StoreError.self) { _ = try await SQLRunStore.open(database.url, readOnly: false) }
            #expect(error?.description.contains("schema version 999, newer than this elena-run understands") == true)
        }
    }

    @Test(arguments: LedgerKind.available)
    func runCacheKeepsSuccessesAndReportsFailures(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("a.png")
            try await store.upsertItems([photo], sourcePaths: [photo.id: "/src/a.png"])
            let ok = StageRecord(
                key: CacheKey(stage: "crop", version: 1, parameters: "{}", inputs: [("raw", photo.id)]), stage: .crop,
                itemID: photo.id, drop: "d1", status: .succeeded, outputDigest: Digest.of("out"),
                artifactPath: "2_cropped/d1/a.jpg", artifactStamp: FileStamp(size: 10, mtimeNanoseconds: 123_456_789_012, inode: 42),
                output: JSONText(.object(["decision": .object(["line": .int(30)])])), error: nil, startedAt: Self.now,
                durationMilliseconds: 12)
            let failed = StageRecord(
                key: CacheKey(stage: "ingest", version: 1, parameters: "{}", inputs: [("source", photo.id)]),
                stage: .ingest, itemID: photo.id, drop: "d1", status: .failed, outputDigest: nil, artifactPath: nil,
                artifactStamp: nil, output: .null, error: "not an image", startedAt: Self.now, durationMilliseconds: 1)
            try await store.record([ok, failed])
            let index = try await store.cacheIndex(items: [photo.id])
            #expect(index.count == 1)
            let hit = try #require(index[ok.key])
            #expect(hit.outputDigest == Digest.of("out"))
            #expect(hit.artifactStamp == ok.artifactStamp)
            #expect(hit.output.value["decision"]?["line"]?.intValue == 30)
            let failures = try await store.failures(drop: "d1")
            #expect(failures.map(\.error) == ["not an image"])
            let stored = try await store.items(drop: "d1")
            #expect(stored.first?.status == .failed)
            #expect(stored.first?.error == "ingest: not an image")

            // A later success replaces the failure under the same key.
            var fixed = failed
            fixed.status = .succeeded
            fixed.error = nil
            fixed.outputDigest = photo.id
            try await store.record([fixed])
            #expect(try await store.cacheIndex(items: [photo.id]).count == 2)
            #expect(try await store.failures(drop: "d1").isEmpty)
            #expect(try await store.runs(itemID: photo.id).count == 2)
        }
    }

    /// Many runs are recorded many to a statement: every one arrives, across statements; a key given twice holds
    /// the last (one statement may not write a row twice), and each failure still marks its item.
    @Test(arguments: LedgerKind.available)
    func manyRunsAreRecordedEachOnceWithAKeyGivenTwiceHoldingTheLast(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("many.png")
            try await store.upsertItems([photo], sourcePaths: [photo.id: "/src/many.png"])
            func run(_ index: Int, status: StageRecord.Status = .succeeded, error: String? = nil) -> StageRecord {
                StageRecord(
                    key: CacheKey(stage: "crop", version: 1, parameters: "{\"n\":\(index)}", inputs: [("raw", photo.id)]),
                    stage: .crop, itemID: photo.id, drop: "d1", status: status,
                    outputDigest: status == .succeeded ? Digest.of("out \(index)") : nil, artifactPath: nil, artifactStamp: nil,
                    output: JSONText(.object(["n": .int(index)])), error: error, startedAt: Self.now, durationMilliseconds: index)
            }
            let count = SQLRunStore.stageRunsPerStatement * 2 + 3
            var runs = (0..<count).map { run($0) }
            // Key 0 again in the first statement's share, failed: the failure is what the key holds, and the item's.
            runs.insert(run(0, status: .failed, error: "unreadable"), at: 2)
            try await store.record(runs)
            let index = try await store.cacheIndex(items: [photo.id])
            #expect(index.count == count - 1)
            #expect(index[run(0).key] == nil)
            let last = count - 1
            #expect(index[run(last).key]?.outputDigest == Digest.of("out \(last)"))
            #expect(index[run(last).key]?.output.value["n"]?.intValue == last)
            #expect(try await store.failures(drop: "d1").map(\.error) == ["unreadable"])
            let stored = try await store.items(drop: "d1")
            #expect(stored.first?.status == .failed)
            #expect(stored.first?.error == "crop: unreadable")
        }
    }

    @Test(arguments: LedgerKind.available)
    func statCacheIsScopedByPrefix(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let stamp = FileStamp(size: 5, mtimeNanoseconds: 1_700_000_000_123_456_789, inode: 9_000_000_001)
            try await store.saveStatEntries([
                StatEntry(path: "/a/src/x.png", stamp: stamp, digest: Digest.of("x")),
                StatEntry(path: "/a/srcother/y.png", stamp: stamp, digest: Digest.of("y")),
            ])
            let entries = try await store.statEntries(prefix: "/a/src/")
            #expect(Array(entries.keys) == ["/a/src/x.png"])
            #expect(try await store.statEntries(prefix: "/a/").count == 2)
            #expect(try await store.statEntries(prefix: "/a/src/x.png").count == 1, "a prefix ending in any character")
            #expect(entries["/a/src/x.png"]?.stamp == stamp)
            // Saving again replaces the entry.
            let newer = FileStamp(size: 6, mtimeNanoseconds: 1, inode: 2)
            try await store.saveStatEntries([StatEntry(path: "/a/src/x.png", stamp: newer, digest: Digest.of("x2"))])
            #expect(try await store.statEntries(prefix: "/a/src/")["/a/src/x.png"]?.digest == Digest.of("x2"))
        }
    }

    /// Many entries are saved many to a statement: every one arrives, across statements, and a path given twice
    /// holds the last (one statement may not write a row twice).
    @Test(arguments: LedgerKind.available)
    func manyStatEntriesAreSavedEachOnceWithThePathGivenTwiceHoldingTheLast(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let count = SQLRunStore.statEntriesPerStatement * 2 + 3
            func stamp(_ index: Int) -> FileStamp { FileStamp(size: Int64(index), mtimeNanoseconds: 7, inode: Int64(index) + 1) }
            var entries = (0..<count).map { StatEntry(path: "/big/src/\($0).png", stamp: stamp($0), digest: Digest.of("\($0)")) }
            // Given again in the same statement's share.
            let again = StatEntry(path: "/big/src/0.png", stamp: FileStamp(size: 99, mtimeNanoseconds: 8, inode: 1), digest: Digest.of("again"))
            entries.insert(again, at: 2)
            try await store.saveStatEntries(entries)
            let saved = try await store.statEntries(prefix: "/big/src/")
            #expect(saved.count == count)
            #expect(saved["/big/src/0.png"]?.digest == again.digest && saved["/big/src/0.png"]?.stamp == again.stamp)
            let last = count - 1
            #expect(saved["/big/src/\(last).png"]?.digest == Digest.of("\(last)"))
            #expect(saved["/big/src/\(last).png"]?.stamp == stamp(last))
        }
    }

    /// Updates that set the same columns go many to a statement: each lands on its own item, nulls and JSON included;
    /// an item updated twice in one call keeps the later update.
    @Test(arguments: LedgerKind.available)
    func manyItemUpdatesLandEachOnItsOwnRow(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let items = (0..<4).map { item("u\($0).png") }
            try await store.upsertItems(items, sourcePaths: Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0.originalPath) }))
            func cropped(_ index: Int, crop: Bool) -> ItemUpdate {
                ItemUpdate(
                    croppedName: "u\(index).jpg", croppedDigest: Digest.of("crop \(index)"), tags: ["t\(index)"],
                    priceCents: 1_000 + index, flags: index == 0 ? [] : ["small_crop"], fingerprints: prints(UInt8(index), crop: crop))
            }
            // The first of the three alike has no crop fingerprint (a null in the statement's first row).
            try await store.updateItems(
                [
                    (items[0].id, cropped(0, crop: false)), (items[1].id, ItemUpdate(status: .inReview)),
                    (items[2].id, cropped(2, crop: true)), (items[3].id, cropped(3, crop: true)),
                ], at: Self.now)
            let stored = Dictionary(uniqueKeysWithValues: try await store.items(drop: "d1").map { ($0.id, $0) })
            for index in [0, 2, 3] {
                let row = try #require(stored[items[index].id])
                #expect(row.croppedName == "u\(index).jpg" && row.croppedDigest == Digest.of("crop \(index)"))
                #expect(row.tags == ["t\(index)"] && row.priceCents == 1_000 + index)
                #expect(row.flags == (index == 0 ? [] : ["small_crop"]))
                #expect(row.fingerprints == prints(UInt8(index), crop: index != 0))
                #expect(row.status == .ingested)
            }
            #expect(stored[items[1].id]?.status == .inReview && stored[items[1].id]?.croppedName == nil)
            // One item twice: the later update stays.
            try await store.updateItems([(items[1].id, ItemUpdate(vault: "first")), (items[1].id, ItemUpdate(vault: "second"))], at: Self.now)
            #expect(try await store.items(drop: "d1").first { $0.id == items[1].id }?.vault == "second")
        }
    }

    @Test(arguments: LedgerKind.available)
    func itemsUpsertUpdateAndLookup(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("b.png")
            try await store.upsertItems([photo], sourcePaths: [photo.id: "/src/b.png"])
            // The same bytes in a second drop: one item, two memberships.
            var again = photo
            again.drop = "d2"
            again.status = .ingested
            try await store.upsertItems([again], sourcePaths: [photo.id: "/other/b.png"])
            #expect(try await store.items(drop: nil).count == 1)
            #expect(try await store.items(drop: "d2").map(\.id) == [photo.id])
            try await store.updateItems(
                [(photo.id, ItemUpdate(status: .published, croppedName: "b.1234.jpg", tags: ["x"], priceCents: 2000, flags: ["small_crop"]))],
                at: Self.now.addingTimeInterval(60))
            let stored = try #require(try await store.item(idPrefix: String(photo.id.hex.prefix(8))).first)
            #expect(stored.status == .published)
            #expect(stored.croppedName == "b.1234.jpg")
            #expect(stored.tags == ["x"])
            #expect(stored.priceCents == 2000)
            #expect(stored.flags == ["small_crop"])
            #expect(stored.lineage?["seed"]?.intValue == 7)
            // The fields a run projects, read alone, are the row's.
            #expect(try await store.rowFields(drop: "d2", items: [photo.id]) == [photo.id: ItemRowFields(stored)])
            #expect(try await store.rowFields(drop: "d2", items: [Digest.of("another")]).isEmpty, "only the items asked for")
            #expect(try await store.rowFields(drop: "d3", items: [photo.id]).isEmpty, "only the drop's items")
            #expect(abs(stored.updatedAt.timeIntervalSince(Self.now.addingTimeInterval(60))) < 0.01)
            #expect(try await store.item(idPrefix: "zz").isEmpty)
        }
    }

    /// A drop's last look for lookalikes holds while the decided pictures' version is the same: the database changes it
    /// with every change to them, whoever makes it, and with nothing else.
    @Test(arguments: LedgerKind.available)
    func theDecidedPicturesVersionChangesWhenTheyDoAndOnlyThen(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let (a, b) = (item("a.png", drop: "old"), item("b.png", drop: "old"))
            let start = try await store.lookalikeState(drop: "new")
            #expect(!start.anyDecided && start.last == nil)
            try await store.upsertItems([a, b], sourcePaths: [:])
            try await store.updateItems(
                [(a.id, ItemUpdate(status: .inReview, fingerprints: prints(1))), (b.id, ItemUpdate(status: .inReview, fingerprints: prints(2)))],
                at: Self.now)
            #expect(try await store.lookalikeState(drop: "new") == start, "items waiting for review are not decided")

            var version = start.version
            /// Applies `change`, then says whether the version changed.
            func changes(_ change: () async throws -> Void) async throws -> Bool {
                try await change()
                let now = try await store.lookalikeState(drop: "new").version
                defer { version = now }
                return now != version
            }
            #expect(try await changes { try await store.updateItems([(a.id, ItemUpdate(status: .approved))], at: Self.now) })
            #expect(try await store.lookalikeState(drop: "new").anyDecided)
            #expect(
                try await !changes {
                    try await store.updateItems(
                        [(a.id, ItemUpdate(status: .approved, vault: "v2", tags: ["c"])), (b.id, ItemUpdate(status: .rejected, fingerprints: prints(3)))],
                        at: Self.now)
                }, "the same status again, what it does not show, an item not decided")
            #expect(try await changes { try await store.updateItems([(a.id, ItemUpdate(fingerprints: prints(4)))], at: Self.now) }, "new fingerprints")
            #expect(try await changes { try await store.updateItems([(a.id, ItemUpdate(status: .published))], at: Self.now) }, "published")
            #expect(
                try await changes { try await store.recordReviews([], items: [(b.id, ItemUpdate(status: .approved))], events: [], at: Self.now) },
                "approved on the review page")
            #expect(try await changes { try await store.updateItems([(a.id, ItemUpdate(status: .inReview))], at: Self.now) }, "undecided")

            // A drop's look is kept, in place of its last; another drop's is its own.
            let look = LookalikeCheck(
                drop: "new", decidedVersion: version, waiting: Digest.of("waiting"),
                found: [Lookalike(item: Digest.of("w"), other: b.id, name: "b.png", drop: "old", status: .approved)])
            try await store.saveLookalikeCheck(look)
            #expect(try await store.lookalikeState(drop: "new").last == look)
            #expect(try await store.lookalikeState(drop: "other").last == nil)
            var again = look
            again.decidedVersion += 1
            again.found = []
            try await store.saveLookalikeCheck(again)
            #expect(try await store.lookalikeState(drop: "new").last == again)
        }
    }

    /// A drop's last comparison of its item rows with a run holds while the rows' version is the one it was made at:
    /// the database changes the version with every change to what a run compares (whoever makes it) and with nothing
    /// else, and keeps a comparison only while the version is the one it was made at.
    @Test(arguments: LedgerKind.available)
    func theItemRowsVersionChangesWithWhatARunComparesAndOnlyThen(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let (a, b) = (item("a.png"), item("b.png"))
            let start = try await store.itemRowState(drop: "d1")
            #expect(start.last == nil)
            var version = start.version
            /// Applies `change`, then says whether the version changed.
            func changes(_ change: () async throws -> Void) async throws -> Bool {
                try await change()
                let now = try await store.itemRowState(drop: "d1").version
                defer { version = now }
                return now != version
            }
            #expect(try await changes { try await store.upsertItems([a, b], sourcePaths: [a.id: "src/a.png", b.id: "src/b.png"]) })
            var moved = a
            moved.originalPath = "/elsewhere/a.png"
            moved.width = 11
            #expect(
                try await !changes { try await store.upsertItems([moved], sourcePaths: [a.id: "src/moved/a.png"]) },
                "the source's fields, in the same drop, are not compared")
            #expect(try await changes { try await store.updateItems([(a.id, ItemUpdate(status: .inReview))], at: Self.now) })
            #expect(
                try await !changes {
                    try await store.updateItems([(a.id, ItemUpdate(status: .inReview, vault: "v"))], at: Self.now.addingTimeInterval(9))
                }, "the same values again")
            #expect(try await changes { try await store.updateItems([(b.id, ItemUpdate(flags: ["near_duplicate"]))], at: Self.now) })
            #expect(try await changes { try await store.updateItems([(b.id, ItemUpdate(priceCents: 900))], at: Self.now) })
            #expect(try await changes { try await store.updateItems([(b.id, ItemUpdate(error: .some("crop: no")))], at: Self.now) })
            var joining = a
            joining.drop = "d2"
            #expect(try await changes { try await store.upsertItems([joining], sourcePaths: [a.id: "src/a.png"]) }, "joined a drop")

            // Kept at the version it was made at, a drop's own; not once a row changed since.
            let check = ItemRowCheck(
                drop: "d1", rowsVersion: version, parts: [Digest.of("part"): [a.id: ["near_duplicate"]], Digest.of("other"): [:]])
            #expect(try await store.saveItemRowCheck(check))
            #expect(try await store.itemRowState(drop: "d1") == ItemRowState(version: version, last: check))
            #expect(try await store.itemRowState(drop: "d2").last == nil)
            try await store.updateItems([(a.id, ItemUpdate(category: "c"))], at: Self.now)
            var late = check
            late.parts = [:]
            #expect(try await !store.saveItemRowCheck(late), "a row changed since the version was read")
            #expect(try await store.itemRowState(drop: "d1").last == check)
        }
    }

    /// A transaction that changes many rows changes the versions; PostgreSQL counts it once, at commit (counting each
    /// row made every count walk past the transaction's earlier ones: 20,000 rows took 24 s to commit).
    @Test(arguments: LedgerKind.available)
    func aTransactionOfManyChangesIsCountedOnPostgreSQLOnce(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let items = (0..<2_000).map { item("many-\($0).png") }
            try await store.upsertItems(items, sourcePaths: [:])
            let prints = ItemFingerprints(
                picture: PictureFingerprint(
                    structure: Fingerprint(kind: .phash, bytes: Array(repeating: 7, count: 8)),
                    colour: Fingerprint(kind: .chroma, bytes: Array(repeating: 9, count: 32))),
                crop: nil)
            let before = (try await store.itemRowState(drop: "d1").version, try await store.lookalikeState(drop: "d1").version)
            try await store.updateItems(items.map { ($0.id, ItemUpdate(status: .approved, fingerprints: prints)) }, at: Self.now)
            let after = (try await store.itemRowState(drop: "d1").version, try await store.lookalikeState(drop: "d1").version)
            #expect(after.0 != before.0 && after.1 != before.1, "\(before) -> \(after)")
            if kind == .postgres {
                #expect(after.0 == before.0 + 1 && after.1 == before.1 + 1, "\(before) -> \(after)")
            }
        }
    }

    /// A run reads two integers of each decided picture, worked out by the database from the fingerprint texts
    /// (migration 11), and only the close ones whole: it finds the very lookalikes that comparing with every decided
    /// picture finds.
    @Test(arguments: LedgerKind.available)
    func decidedPicturesAreFoundThroughTheirStructures(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            var random = SeededRandom(seed: 7)
            func prints(_ bits: UInt64, crop: UInt64?, chroma: UInt8 = 100) -> ItemFingerprints {
                func picture(_ bits: UInt64) -> PictureFingerprint {
                    PictureFingerprint(
                        structure: Fingerprint(kind: .phash, bytes: (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) }),
                        colour: Fingerprint(kind: .chroma, bytes: (0..<32).map { chroma &+ UInt8($0) }))
                }
                return ItemFingerprints(picture: picture(bits), crop: crop.map(picture))
            }
            // 600 decided pictures (enough to be looked up through the blocks), half of them with the top bit set
            // (a negative integer in the database), some without a crop; and items that are not decided.
            var decided: [(record: ItemRecord, prints: ItemFingerprints)] = []
            for index in 0..<600 {
                var record = item("d\(index).png", drop: "old")
                record.status = index % 5 == 0 ? .published : .approved
                decided.append((record, prints(random.next(), crop: index % 4 == 0 ? nil : random.next())))
            }
            var undecided = [item("waiting.png", drop: "old"), item("rejected.png", drop: "old"), item("unprinted.png", drop: "old")]
            undecided[0].status = .inReview
            undecided[1].status = .rejected
            undecided[2].status = .approved
            try await store.upsertItems(decided.map(\.record) + undecided, sourcePaths: [:])
            var updates = decided.map { ($0.record.id, ItemUpdate(status: $0.record.status, fingerprints: $0.prints)) }
            updates += undecided.map { ($0.id, ItemUpdate(status: $0.status, fingerprints: $0.id == undecided[2].id ? nil : prints(0, crop: 0))) }
            try await store.updateItems(updates, at: Self.now)

            let structures = try await store.decidedStructures()
            #expect(
                Set(structures) == Set(decided.map { DecidedStructure(id: $0.record.id, prints: $0.prints) }),
                "the integers are the fingerprints' structures; only decided items with fingerprints")
            #expect(structures.contains { ($0.picture ?? 0) >> 63 == 1 } && structures.contains { $0.crop == nil })
            let asked = [decided[3].record.id, undecided[0].id, undecided[2].id, decided[8].record.id]
            #expect(Set(try await store.decidedPictures(asked).map(\.id)) == [decided[3].record.id, decided[8].record.id])

            // Waiting pictures: a copy of one's picture, of another's crop, one near two (the nearer named), one with
            // the structure but not the colours, and a stranger.
            func bits(_ print: PictureFingerprint?) -> UInt64 { print?.structure.bytes.reduce(0) { $0 << 8 | UInt64($1) } ?? 0 }
            let (a, b, c, d) = (decided[10], decided[21], decided[30], decided[31])
            // d becomes one bit from c.
            try await store.updateItems(
                [(d.record.id, ItemUpdate(fingerprints: prints(bits(c.prints.picture) ^ 0b1, crop: nil)))], at: Self.now)
            let waiting: [(id: Digest, prints: ItemFingerprints)] = [
                (Digest.of("w1"), prints(bits(a.prints.picture) ^ 0b1011, crop: random.next())),
                (Digest.of("w2"), prints(random.next(), crop: bits(b.prints.crop) ^ 0b11)),
                (Digest.of("w3"), prints(bits(c.prints.picture) ^ 0b111, crop: nil)),
                (Digest.of("w4"), prints(bits(a.prints.picture), crop: nil, chroma: 200)),
                (Digest.of("w5"), prints(random.next(), crop: random.next())),
            ]
            let all = try await store.decidedPictures(try await store.decidedStructures().map(\.id))
            #expect(all.count == 600)
            let expected = NearDuplicates.lookalikes(of: waiting, among: all)
            let found = try await store.lookalikes(of: waiting, among: try await store.decidedStructures())
            #expect(found.mapValues(\.id) == expected.mapValues(\.id))
            #expect(
                found.mapValues(\.name) == [Digest.of("w1"): "d10.png", Digest.of("w2"): "d21.png", Digest.of("w3"): "d31.png"],
                "w3 is 3 bits from d30 and 2 from d31")
        }
    }

    /// What `status` and the review-folder scan ask of the whole library comes from the database's own counts and
    /// keys, not from loading every item.
    @Test(arguments: LedgerKind.available)
    func dropsAndTheirCountsAreAggregates(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            #expect(try await store.dropNames().isEmpty)
            #expect(try await store.statusCounts().isEmpty)
            let photos = ["a.png", "b.png", "c.png"].map { item($0, drop: "zeta") } + [item("d.png", drop: "alpha")]
            try await store.upsertItems(photos, sourcePaths: Dictionary(uniqueKeysWithValues: photos.map { ($0.id, $0.originalPath) }))
            try await store.updateItems([(photos[0].id, ItemUpdate(status: .approved))], at: Self.now)
            // A drop that ran with no item yet is known too.
            try await store.recordDropRun("empty", manifest: "/m/empty.yaml", at: Self.now)
            #expect(try await store.dropNames() == ["alpha", "empty", "zeta"])
            #expect(
                try await store.statusCounts() == [
                    DropStatusCount(drop: "alpha", status: .ingested, count: 1),
                    DropStatusCount(drop: "zeta", status: .approved, count: 1),
                    DropStatusCount(drop: "zeta", status: .ingested, count: 2),
                ])
        }
    }

    /// Overrides are read for the items asked about, a chunk at a time, and only those.
    @Test(arguments: LedgerKind.available)
    func overridesAreReadForTheItemsAskedAbout(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photos = (0..<450).map { item("o\($0).png") }
            try await store.upsertItems(photos, sourcePaths: [:])
            for index in [0, 3, 449] {
                try await store.setLineOverride(itemID: photos[index].id, fraction: 0.25, by: "t", at: Self.now)
                try await store.setPublishOverride(
                    itemID: photos[index].id, PublishOverride(vault: "v\(index)", priceCents: nil, tags: nil), by: "t", at: Self.now)
            }
            // 2,000 ids or more, and more than there are overrides: the table is read in one pass and kept here.
            let unknown = (0..<1_700).map { Digest.of("unknown \($0)") }
            let asked = photos.indices.filter { $0 != 3 }.map { photos[$0].id } + unknown
            #expect(Set(try await store.lineOverrides(items: asked).keys) == [photos[0].id, photos[449].id])
            let publish = try await store.publishOverrides(items: asked)
            #expect(Set(publish.keys) == [photos[0].id, photos[449].id])
            #expect(publish[photos[449].id]?.vault == "v449")
            #expect(try await store.lineOverrides(items: []).isEmpty)
            // A few ids: they go to the database; the answer is the same.
            #expect(Set(try await store.lineOverrides(items: [photos[0].id, photos[1].id]).keys) == [photos[0].id])
            #expect(try await store.publishOverrides(items: [photos[449].id])[photos[449].id]?.vault == "v449")

            // Items of other drops, either way.
            var other = item("other.png", drop: "d9")
            try await store.upsertItems([other], sourcePaths: [other.id: "/src/other.png"])
            other = try #require(try await store.items(drop: "d9").first)
            #expect(try await store.items([other.id, photos[0].id], ownedByOtherThan: "d1").map(\.id) == [other.id])
            #expect(try await store.items(photos.map(\.id) + unknown + [other.id], ownedByOtherThan: "d1").map(\.id) == [other.id])
            #expect(try await store.items([other.id], ownedByOtherThan: "d9").isEmpty)
        }
    }

    @Test(arguments: LedgerKind.available)
    func reviewsAreReplacedByItemAndCrop(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("c.png")
            try await store.upsertItems([photo], sourcePaths: [:])
            let crop = Digest.of("crop")
            var review = ReviewRecord(
                itemID: photo.id, cropDigest: crop, drop: "d1", decision: .pending, fileName: "c.abcd.jpg", folder: .review,
                decidedBy: nil, decidedAt: nil)
            try await store.saveReviews([review])
            review.decision = .approved
            review.folder = .approved
            review.decidedBy = "folder"
            review.decidedAt = Self.now
            try await store.saveReviews([review])
            try await store.setReviewFolder(itemID: photo.id, cropDigest: crop, folder: .uploaded)
            let stored = try await store.reviews(drop: "d1")
            #expect(stored.count == 1)
            #expect(stored.first?.decision == .approved)
            #expect(stored.first?.folder == .uploaded)
            #expect(stored.first?.decidedBy == "folder")
        }
    }

    @Test(arguments: LedgerKind.available)
    func aReviewOutcomeLandsWholeOrNotAtAll(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("r.png")
            try await store.upsertItems([photo], sourcePaths: [photo.id: "/src/r.png"])
            let crop = Digest.of("crop")
            let approved = ReviewRecord(
                itemID: photo.id, cropDigest: crop, drop: "d1", decision: .approved, fileName: "r.abcd.jpg",
                folder: .approved, decidedBy: "page", decidedAt: Self.now)
            let told = EventRecord(kind: "review.approved", drop: "d1", itemID: photo.id, message: "r.png: approved", at: Self.now)
            // A record of an item the ledger lacks breaks the foreign key: the other item's status and the event
            // are not written either.
            var stray = approved
            stray.itemID = Digest.of("no such item")
            await #expect(throws: (any Error).self) {
                try await store.recordReviews(
                    [approved, stray], items: [(photo.id, ItemUpdate(status: .approved))], events: [told], at: Self.now)
            }
            #expect(try await store.reviews(drop: "d1").isEmpty)
            #expect(try await store.items(drop: "d1").first?.status == .ingested)
            #expect(try await store.events(drop: "d1", limit: 10).isEmpty)
            // The same with one record: a write PostgreSQL is sent as one statement (each part to its own table).
            await #expect(throws: (any Error).self) {
                try await store.recordReviews(
                    [stray], items: [(photo.id, ItemUpdate(status: .approved))], events: [told], at: Self.now)
            }
            #expect(try await store.reviews(drop: "d1").isEmpty)
            #expect(try await store.items(drop: "d1").first?.status == .ingested)
            #expect(try await store.events(drop: "d1", limit: 10).isEmpty)

            try await store.recordReviews(
                [approved], items: [(photo.id, ItemUpdate(status: .approved))], events: [told], at: Self.now)
            #expect(try await store.reviews(drop: "d1").map(\.decision) == [.approved])
            #expect(try await store.items(drop: "d1").first?.status == .approved)
            #expect(try await store.events(drop: "d1", limit: 10).map(\.message) == ["r.png: approved"])
        }
    }

    @Test(arguments: LedgerKind.available)
    func theSameBytesArePublishedOncePerDestination(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let photo = item("d.png")
            try await store.upsertItems([photo], sourcePaths: [:])
            let publication = PublicationRecord(
                target: "folder", destination: "/out", contentDigest: Digest.of("bytes"), itemID: photo.id, drop: "d1",
                reference: "d.jpg", metadata: .object(["tags": .array([.string("a")])]), publishedAt: Self.now)
            #expect(try await store.savePublication(publication))
            var changed = publication
            changed.metadata = .object(["tags": .array([.string("b")])])
            #expect(try await store.savePublication(changed) == false)
            let stored = try await store.publication(target: "folder", destination: "/out", digest: Digest.of("bytes"))
            #expect(stored?.metadata["tags"] == .array([.string("b")]))
            #expect(try await store.publication(target: "folder", destination: "/elsewhere", digest: Digest.of("bytes")) == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func theEventLogIsAppendOnly(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            try await store.append([
                EventRecord(kind: "run.finished", drop: "d1", message: "first", data: .object(["n": .int(1)]), at: Self.now),
                EventRecord(kind: "run.finished", drop: "d1", message: "second", at: Self.now.addingTimeInterval(1)),
            ])
            #expect(try await store.events(drop: "d1", limit: 10).map(\.message) == ["first", "second"])
            await #expect(throws: StoreError.self) { try await store.database.execute("UPDATE events SET message = 'x'") }
            await #expect(throws: StoreError.self) { try await store.database.execute("DELETE FROM events") }
            #expect(try await store.events(drop: nil, limit: 1).map(\.message) == ["second"])
        }
    }

    @Test(arguments: TestBackend.available)
    func schemaConstraintsGuardTheLedger(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            let photo = item("e.png")
            try await store.upsertItems([photo], sourcePaths: [:])
            let insert = "INSERT INTO sends (item_id, fan_uuid, price_cents, sent_at) VALUES (?, ?, ?, ?)"
            try await store.database.execute(insert, [.text(photo.id.hex), .text("fan-1"), .int(500), .date(Self.now)])
            // The same item to the same fan twice is refused by the schema itself.
            await #expect(throws: StoreError.self) {
                try await store.database.execute(insert, [.text(photo.id.hex), .text("fan-1"), .int(500), .date(Self.now)])
            }
            // A price under Fanvue's minimum is refused.
            await #expect(throws: StoreError.self) {
                try await store.database.execute(insert, [.text(photo.id.hex), .text("fan-2"), .int(299), .date(Self.now)])
            }
            await #expect(throws: StoreError.self) {
                try await store.database.execute("UPDATE items SET status = 'lost' WHERE id = ?", [.text(photo.id.hex)])
            }
        }
    }

    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func postgresUsesNativeTypes() async throws {
        try await TestDatabase.withStore(.postgres) { store, _ in
            let rows = try await store.database.query(
                """
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_name = 'items' AND column_name IN ('tags', 'lineage', 'created_at', 'price_cents')
                ORDER BY column_name
                """)
            let types = Dictionary(uniqueKeysWithValues: rows.map { ($0.string("column_name") ?? "", $0.string("data_type") ?? "") })
            #expect(types["tags"] == "jsonb")
            #expect(types["lineage"] == "jsonb")
            #expect(types["created_at"] == "timestamp with time zone")
            #expect(types["price_cents"] == "bigint")
        }
    }
}
