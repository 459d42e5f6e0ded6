import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport

/// Where a contract test runs: in memory, on a SQLite file, on PostgreSQL (when the run has one).
enum LedgerKind: String, CustomStringConvertible {
    case memory, sqlite, postgres
    var description: String { rawValue }

    /// Memory and SQLite always; PostgreSQL when `ELENA_POSTGRES_URL` is set (or required).
    static var available: [LedgerKind] { [.memory] + TestBackend.available.compactMap { LedgerKind(rawValue: $0.rawValue) } }

    /// Runs `body` on a fresh ledger of this kind.
    static func with(_ kind: LedgerKind, _ body: (any LibraryLedger) async throws -> Void) async throws {
        switch kind {
        case .memory: try await body(MemoryLedger())
        case .sqlite: try await TestDatabase.withStore(.sqlite) { store, _ in try await body(store) }
        case .postgres: try await TestDatabase.withStore(.postgres) { store, _ in try await body(store) }
        }
    }
}
