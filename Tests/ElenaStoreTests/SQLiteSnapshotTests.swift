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
        #expect(try await snapshot.cacheIndex().isEmpty)
        await snapshot.close()
        #expect(folder.files().isEmpty)
    }
}
