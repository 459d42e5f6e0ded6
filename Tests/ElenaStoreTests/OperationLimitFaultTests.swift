import ElenaCore
import ElenaStore
import ElenaTestSupport
import Foundation
import Testing

/// The limit per operation on PostgreSQL, timed against the test server: run with the store-fault suites, after
/// the rest (`scripts/run-tests`). Beside the whole suite, a 1 s statement was taken for unanswered after 4 s, and
/// the six seconds of statements, run again, took 27 s: the test process had no thread free, whatever the server did.
@Suite(.serialized) struct OperationLimitFaultTests {
    /// The limit per operation (`ELENA_DB_OPERATION_LIMIT`) is a silence: an operation counts as lost when nothing
    /// answers it for that long, not when it takes that long. The first run of a 100,000-file drop saved its stat
    /// cache in one transaction of 100,000 statements, 33-36 s here: each answered at once, and the run took the
    /// transaction for a lost connection, ran it again twice, and stopped with "did not come back".
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func aLongOperationThatKeepsAnsweringIsNotALostConnectionButASilentOneIs() async throws {
        let admin = try #require(ProcessInfo.processInfo.environment["ELENA_POSTGRES_URL"], "ELENA_POSTGRES_URL is not set")
        let notices = Locked<[String]>([])
        let resilience = PostgresDatabase.Resilience(
            window: .seconds(2), operationLimit: .seconds(4), notice: { line in notices.withLock { $0.append(line) } })
        let database = try await PostgresDatabase.connect(try DatabaseURL(parsing: admin), resilience: resilience)
        // Six statements of a second: 6 s in all, each answered well within the 4 s limit.
        let started = ContinuousClock.now
        try await database.transaction(Array(repeating: SQLStatement("SELECT pg_sleep(1)"), count: 6))
        #expect(ContinuousClock.now - started >= .seconds(6), "the transaction ran as one, each statement once")
        #expect(notices.withLock { $0 }.isEmpty, "no connection was lost: \(notices.withLock { $0 })")
        // One statement whose rows come a second apart, 6 s in all (rows of 10 KB: the server sends each as it is
        // made instead of holding it in its 8 KB buffer until the end; `1 + 0 * g` sleeps again for each row).
        let rows = try await database.query(
            SQLStatement(
                "SELECT g, repeat('x', 10000) AS filler FROM generate_series(1, 6) AS g WHERE (SELECT true FROM pg_sleep(1 + 0 * g))"))
        #expect(rows.count == 6)
        #expect(notices.withLock { $0 }.isEmpty, "rows arriving are answers: \(notices.withLock { $0 })")
        // One statement silent for longer than the limit is still taken for a lost connection, and after the window
        // the operation fails with the ledger unavailable.
        await #expect(throws: LedgerUnavailable.self) { _ = try await database.query(SQLStatement("SELECT pg_sleep(6)")) }
        #expect(notices.withLock { $0 }.first?.contains("no answer for 4.0 s") == true, "\(notices.withLock { $0 })")
        await database.close()
    }
}
