import ElenaCore
import ElenaEngine
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// Advisory locks when the database fails: a lock held by a connection that died is free for the next holder at
/// once (the server ends a dead connection's transaction), and a waiter whose connection died waits again on a new
/// one instead of hanging or failing.
@Suite(.serialized) struct WorkLockFaultTests {
    @Test func aLockHeldByADeadConnectionIsReleasedAndTheNextHolderGetsIt() async throws {
        let server = try await ScratchPostgres.start()
        try await withCleanup({ await server.remove() }) {
            let locks = PostgresWorkLocks(url: try DatabaseURL(parsing: server.url))
            let inside = Locked(false)
            let release = Locked(false)
            let holder = Task {
                try await locks.withLock("fan-1") {
                    inside.withLock { $0 = true }
                    while !release.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                    return "held"
                }
            }
            while !inside.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            // The holder's connection is cut while it works: the lock goes with it.
            try await server.cutConnections()
            let started = ContinuousClock.now
            let second = try await locks.withLock("fan-1") { "second" }
            #expect(second == "second")
            #expect(ContinuousClock.now - started < .seconds(10), "the lock of the dead connection was free at once")
            release.withLock { $0 = true }
            #expect(try await holder.value == "held", "the first holder's work finished")
        }
    }

    @Test func aWaiterWhoseConnectionDiesWaitsAgainAndGetsTheLock() async throws {
        let server = try await ScratchPostgres.start()
        try await withCleanup({ await server.remove() }) {
            let locks = PostgresWorkLocks(url: try DatabaseURL(parsing: server.url))
            let inside = Locked(false)
            let holder = Task {
                try await locks.withLock("fan-2") {
                    inside.withLock { $0 = true }
                    try await Task.sleep(for: .milliseconds(400))
                    return 1
                }
            }
            while !inside.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            let waiter = Task { try await locks.withLock("fan-2") { 2 } }
            try await Task.sleep(for: .milliseconds(150))
            // A crash and restart: both connections die; the waiter reconnects and takes the lock.
            try await server.restart()
            _ = try? await holder.value
            #expect(try await waiter.value == 2)
        }
    }
}
