import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport

/// Where a contract test runs: in memory, on a SQLite file, on PostgreSQL (when the run has one), or on PostgreSQL
/// through PgBouncer in transaction mode (when the run has one).
enum LedgerKind: String, CustomStringConvertible {
    case memory, sqlite, postgres, pooler
    var description: String { rawValue }

    /// Memory and SQLite always; PostgreSQL when `ELENA_POSTGRES_URL` is set (or required).
    static var available: [LedgerKind] { [.memory] + TestBackend.available.compactMap { LedgerKind(rawValue: $0.rawValue) } }

    /// `[.pooler]` when `ELENA_POOLER_URL` is set (or required), else none.
    static var pooled: [LedgerKind] { TestBackend.pooled.compactMap { LedgerKind(rawValue: $0.rawValue) } }

    /// Runs `body` on a fresh ledger of this kind: the whole ledger, every role.
    static func with(_ kind: LedgerKind, _ body: (any RunStore) async throws -> Void) async throws {
        switch kind {
        case .memory: try await body(MemoryLedger())
        case .sqlite: try await TestDatabase.withStore(.sqlite) { store, _ in try await body(store) }
        case .postgres: try await TestDatabase.withStore(.postgres) { store, _ in try await body(store) }
        case .pooler: try await TestDatabase.withStore(.pooler) { store, _ in try await body(store) }
        }
    }
}
