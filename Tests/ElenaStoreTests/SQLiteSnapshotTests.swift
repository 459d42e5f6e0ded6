import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// Dry runs read SQLite through a private copy: the library folder must stay byte-identical.
@Suite struct SQLiteSnapshotTests {
    func contents(_ folder: TemporaryDirectory) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for file in folder.files() { result[file] = try Data(contentsOf: URL(fileURLWithPath: folder(file))) }
        return result
    }

    @Test func aReadOnlyOpenChangesNothingBesideTheFile() async throws {
        let folder = try TemporaryDirectory("elena-snapshot")
        defer { folder.remove() }
        let path = folder("elena.db")
        let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: path), readOnly: false)
        try await store.append([EventRecord(kind: "k", drop: "d", message: "m", at: Date())])
        await store.close()
        let before = try contents(folder)

        let snapshot = try await SQLRunStore.open(DatabaseURL(sqlitePath: path), readOnly: true)
        #expect(try await snapshot.events(drop: "d", limit: 5).map(\.message) == ["m"])
        await #expect(throws: StoreError.self) { try await snapshot.append([EventRecord(kind: "k", drop: "d", message: "x", at: Date())]) }
        await snapshot.close()
        #expect(try contents(folder) == before)
    }

    @Test func aReadOnlyOpenOfAMissingFileCreatesNothing() async throws {
        let folder = try TemporaryDirectory("elena-snapshot")
        defer { folder.remove() }
        let snapshot = try await SQLRunStore.open(DatabaseURL(sqlitePath: folder("missing.db")), readOnly: true)
        #expect(try await snapshot.cacheIndex(items: [Digest.of("a")]).isEmpty)
        await snapshot.close()
        #expect(folder.files().isEmpty)
    }

    /// A dry run reads the file in place (a copy would cost the whole ledger, 290 MB in a library of 100,000
    /// items), and knows when another process wrote the file while it read: then it reads again through a copy.
    @Test func aReadInPlaceKnowsWhenAWriterChangedTheFile() async throws {
        let folder = try TemporaryDirectory("elena-snapshot")
        defer { folder.remove() }
        let url = DatabaseURL(sqlitePath: folder("elena.db"))
        let store = try await SQLRunStore.open(url, readOnly: false)
        try await store.append([EventRecord(kind: "k", drop: "d", message: "first", at: Date())])
        await store.close()

        let inPlace = try await SQLRunStore.open(url, readOnly: true)
        let copy = try await SQLRunStore.open(url, readOnly: true, inPlace: false)
        #expect(try await inPlace.events(drop: "d", limit: 5).map(\.message) == ["first"])
        #expect(!inPlace.snapshotWasDisturbed)

        // Another run writes and closes (its checkpoint rewrites the file).
        let writer = try await SQLRunStore.open(url, readOnly: false)
        try await writer.append([EventRecord(kind: "k", drop: "d", message: "second", at: Date())])
        #expect(inPlace.snapshotWasDisturbed, "a transaction waits in the log")
        await writer.close()
        #expect(inPlace.snapshotWasDisturbed, "the file changed")
        #expect(!copy.snapshotWasDisturbed, "a copy is the state it copied")
        #expect(try await copy.events(drop: "d", limit: 5).map(\.message) == ["first"])
        await inPlace.close()
        await copy.close()
    }

    /// A transaction still in another connection's write-ahead log is read (through a copy of file and log), and
    /// nothing beside the file changes.
    @Test func transactionsWaitingInTheLogAreRead() async throws {
        let folder = try TemporaryDirectory("elena-snapshot")
        defer { folder.remove() }
        let url = DatabaseURL(sqlitePath: folder("elena.db"))
        let writer = try await SQLRunStore.open(url, readOnly: false)
        try await writer.append([EventRecord(kind: "k", drop: "d", message: "in the log", at: Date())])
        let before = try contents(folder)
        let snapshot = try await SQLRunStore.open(url, readOnly: true)
        #expect(try await snapshot.events(drop: "d", limit: 5).map(\.message) == ["in the log"])
        await snapshot.close()
        #expect(try contents(folder) == before)
        await writer.close()
    }

    /// A ledger made by an older elena-run is read through a copy brought up to date; the file is left as it was.
    @Test func anOlderSchemaIsReadThroughAMigratedCopy() async throws {
        let folder = try TemporaryDirectory("elena-snapshot")
        defer { folder.remove() }
        let url = DatabaseURL(sqlitePath: folder("elena.db"))
        let store = try await SQLRunStore.open(url, readOnly: false)
        // Undo the latest migrations by hand (0009_fingerprints, 0010_decided_items, 0011_picture_structures,
        // 0012_lookalike_checks, 0013_item_row_checks, 0015_run_cache_parts; 0014 changes nothing in SQLite): the file
        // is as version 8 left it.
        for statement in [
            "DROP TRIGGER stage_runs_inserted", "DROP TRIGGER stage_runs_updated", "DROP TRIGGER stage_runs_deleted",
            "DROP TABLE run_cache_parts",
            "DROP TRIGGER items_rows_inserted", "DROP TRIGGER items_rows_updated", "DROP TRIGGER items_rows_deleted",
            "DROP TRIGGER drop_items_rows_inserted", "DROP TRIGGER drop_items_rows_updated", "DROP TRIGGER drop_items_rows_deleted",
            "DROP TABLE item_row_checks",
            "DROP TRIGGER items_decided_inserted", "DROP TRIGGER items_decided_updated", "DROP TRIGGER items_decided_deleted",
            "DROP TABLE lookalike_checks", "DROP TABLE ledger_versions",
            "DROP INDEX items_decided_structures", "ALTER TABLE items DROP COLUMN structure", "ALTER TABLE items DROP COLUMN crop_structure",
            "ALTER TABLE items DROP COLUMN fingerprint", "ALTER TABLE items DROP COLUMN crop_fingerprint",
        ] {
            try await store.database.execute(statement)
        }
        try await store.database.execute("DELETE FROM schema_migrations WHERE version > 8")
        await store.close()
        let before = try contents(folder)
        let snapshot = try await SQLRunStore.open(url, readOnly: true)
        #expect(try await Migrator.currentVersion(snapshot.database) == Migrator.latestVersion)
        #expect(try await snapshot.fingerprints(items: nil).isEmpty, "items are read with their fingerprint columns")
        #expect(try await snapshot.decidedStructures().isEmpty)
        #expect(try await snapshot.lookalikeState(drop: "d") == LookalikeState(version: 0, anyDecided: false, last: nil))
        #expect(try await snapshot.itemRowState(drop: "d") == ItemRowState(version: 0, last: nil))
        #expect(try await snapshot.items(drop: nil).isEmpty)
        await snapshot.close()
        #expect(try contents(folder) == before)
    }
}
