package import ElenaStore
package import ElenaTestKit
import Foundation

/// Which real database a store test runs against.
package enum TestBackend: String, Sendable, CustomStringConvertible, CaseIterable {
    case sqlite
    case postgres
    /// The same PostgreSQL server through PgBouncer in transaction mode (as Supabase's pooler on port 6543).
    case pooler

    package var description: String { rawValue }

    /// The backends available to this test run: SQLite always; PostgreSQL when `ELENA_POSTGRES_URL` is set
    /// (`make test` starts a server and sets it). With `ELENA_REQUIRE_POSTGRES=1`, a missing URL is a failure, not
    /// a skip: see `TestDatabases.make`.
    package static var available: [TestBackend] {
        let environment = ProcessInfo.processInfo.environment
        if environment["ELENA_POSTGRES_URL"] != nil || environment["ELENA_REQUIRE_POSTGRES"] == "1" {
            return [.sqlite, .postgres]
        }
        return [.sqlite]
    }

    /// `[.pooler]` when `ELENA_POOLER_URL` is set (`make test` starts PgBouncer and sets it), else none. With
    /// `ELENA_REQUIRE_POOLER=1`, a missing URL is a failure, not a skip.
    package static var pooled: [TestBackend] {
        let environment = ProcessInfo.processInfo.environment
        return environment["ELENA_POOLER_URL"] != nil || environment["ELENA_REQUIRE_POOLER"] == "1" ? [.pooler] : []
    }
}

/// A database made for one test, removed afterwards.
package struct TestDatabase: Sendable {
    /// The URL to open it with (contains a password for PostgreSQL: never print it).
    package var url: DatabaseURL
    /// The same as text, for `DATABASE_URL`.
    package var urlText: String
    /// Folder of a SQLite file (nil for PostgreSQL).
    package var folder: TemporaryDirectory?
    private var postgresName: String?
    private var adminURL: DatabaseURL?

    /// Creates a fresh, empty database on the backend.
    package static func make(_ backend: TestBackend) async throws -> TestDatabase {
        switch backend {
        case .sqlite:
            let folder = try TemporaryDirectory("elena-db")
            let path = folder("elena.db")
            return TestDatabase(url: DatabaseURL(sqlitePath: path), urlText: path, folder: folder)
        case .postgres, .pooler:
            guard let admin = ProcessInfo.processInfo.environment["ELENA_POSTGRES_URL"] else {
                throw StoreError(
                    "ELENA_POSTGRES_URL is not set but PostgreSQL tests are required (ELENA_REQUIRE_POSTGRES=1); "
                        + "run them through `make test`, which starts a server")
            }
            let adminURL = try DatabaseURL(parsing: admin)
            let name = "elena_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
            let server = try await PostgresDatabase.connect(adminURL)
            try await server.execute("CREATE DATABASE \(name)")
            await server.close()
            var text = Self.replacingDatabase(in: admin, with: name)
            if backend == .pooler {
                guard let pooler = ProcessInfo.processInfo.environment["ELENA_POOLER_URL"] else {
                    throw StoreError("ELENA_POOLER_URL is not set but pooler tests are required (ELENA_REQUIRE_POOLER=1)")
                }
                text = Self.replacingDatabase(in: pooler, with: name)
            }
            return TestDatabase(
                url: try DatabaseURL(parsing: text), urlText: text, folder: nil, postgresName: name, adminURL: adminURL)
        }
    }

    static func replacingDatabase(in url: String, with name: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + name
        return components.string ?? url
    }

    /// Deletes the database.
    package func remove() async {
        folder?.remove()
        if let postgresName, let adminURL, let server = try? await PostgresDatabase.connect(adminURL) {
            try? await server.execute("DROP DATABASE IF EXISTS \(postgresName) WITH (FORCE)")
            await server.close()
        }
    }
}

extension TestDatabase {
    /// A fresh database on `backend`, opened (and migrated) as a store for `body`, closed and removed afterwards,
    /// whether `body` succeeds or throws.
    package static func withStore(
        _ backend: TestBackend, _ body: (SQLRunStore, TestDatabase) async throws -> Void
    ) async throws {
        let database = try await TestDatabase.make(backend)
        let store = try await SQLRunStore.open(database.url, readOnly: false)
        do {
            try await body(store, database)
        } catch {
            await store.close()
            await database.remove()
            throw error
        }
        await store.close()
        await database.remove()
    }
}
