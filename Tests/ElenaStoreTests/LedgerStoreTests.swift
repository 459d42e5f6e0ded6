import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The ledger's guards and sales tables, in memory, on a real SQLite file and a real PostgreSQL database.
@Suite struct LedgerStoreTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)
    static let fan = "7c1b1c1e-1111-4aaa-8bbb-000000000001"
    static let other = "7c1b1c1e-1111-4aaa-8bbb-000000000002"

    func items(_ store: any RunStore, _ names: [String]) async throws -> [Digest] {
        let records = names.map { name in
            ItemRecord(
                id: Digest.of(name), drop: "d1", originalName: name, originalPath: "/src/\(name)", rawPath: nil,
                status: .published, tags: ["red"], priceCents: 900, createdAt: Self.now, updatedAt: Self.now)
        }
        try await store.upsertItems(records, sourcePaths: [:])
        return records.map(\.id)
    }

    @Test(arguments: LedgerKind.available + LedgerKind.pooled)
    func theSchemaKeepsOneSendPerItemAndFan(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            let context = SendContext(account: "acct", drop: "d1", via: "send")
            let first = try await store.claimSends(fan: Self.fan, items: ids, priceCents: 900, context: context, at: Self.now)
            #expect(first == ids)
            let second = try await store.claimSends(fan: Self.fan, items: ids, priceCents: 900, context: context, at: Self.now)
            #expect(second.isEmpty, "already claimed: the unique constraint decides")
            let claimedOnly: [Digest: String?] = [ids[0]: .none, ids[1]: .none]
            #expect(try await store.sends(fan: Self.fan) == claimedOnly, "claimed, no message yet")
            try await store.confirmSends(fan: Self.fan, items: ids, messageUUID: "m-1", massMessageID: nil)
            let sends = try await store.allSends()
            #expect(sends.count == 2)
            #expect(sends.allSatisfy { $0.messageUUID == "m-1" && $0.via == "send" && $0.drop == "d1" && $0.priceCents == 900 })
            #expect(try await store.sends(fan: Self.fan) == [ids[0]: "m-1", ids[1]: "m-1"])
            // A refused message gives back only unconfirmed claims.
            _ = try await store.claimSends(fan: Self.other, items: ids, priceCents: 900, context: context, at: Self.now)
            try await store.releaseSends(fan: Self.other, items: ids)
            try await store.releaseSends(fan: Self.fan, items: ids)
            #expect(try await store.allSends().map(\.fan) == [Self.fan, Self.fan])
            #expect(try await store.sends(fan: Self.other).isEmpty)
            // Given back, they can be claimed again.
            #expect(try await store.claimSends(fan: Self.other, items: ids, priceCents: nil, context: context, at: Self.now) == ids)
        }
    }

    /// Even a raw INSERT that skips the code is refused by the schema (the database's own guard; the in-memory
    /// ledger has no SQL to skip it with).
    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func aRawInsertOfASecondSendIsRefusedByTheSchema(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { store, _ in
            let ids = try await items(store, ["a.png"])
            _ = try await store.claimSends(
                fan: Self.fan, items: ids, priceCents: 900, context: SendContext(account: "acct", drop: "d1", via: "send"),
                at: Self.now)
            await #expect(throws: (any Error).self) {
                try await store.database.execute(
                    "INSERT INTO sends (item_id, fan_uuid, sent_at) VALUES (?, ?, ?)", [.text(ids[0].hex), .text(Self.fan), .date(Self.now)])
            }
        }
    }

    @Test(arguments: LedgerKind.available + LedgerKind.pooled)
    func theSchemaRefusesAFeedPostOfAnItemSoldAsPayPerView(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["sold.png", "fresh.png"])
            _ = try await store.claimSends(
                fan: Self.fan, items: [ids[0]], priceCents: 900, context: SendContext(account: "a", drop: nil, via: "send"),
                at: Self.now)
            #expect(try await store.ppvSends(items: ids) == [ids[0]: 1])
            await #expect(throws: (any Error).self, "the trigger refuses the sold item") {
                try await store.savePost(
                    requestKey: "k1", account: "a", drop: "d1", audience: "subscribers", priceCents: nil, text: "t",
                    publishAt: nil, allowPPV: false, uuid: "p-1", items: ids, at: Self.now)
            }
            #expect(try await store.allPosts().allSatisfy { $0.items.isEmpty }, "nothing half-written")
            try await store.savePost(
                requestKey: "k2", account: "a", drop: "d1", audience: "subscribers", priceCents: nil, text: "t",
                publishAt: nil, allowPPV: false, uuid: "p-2", items: [ids[1]], at: Self.now)
            try await store.savePost(
                requestKey: "k3", account: "a", drop: "d1", audience: "subscribers", priceCents: nil, text: "t",
                publishAt: nil, allowPPV: true, uuid: "p-3", items: ids, at: Self.now)
            let posts = try await store.allPosts().filter { $0.uuid != nil }
            #expect(posts.map(\.uuid) == ["p-2", "p-3"])
            #expect(posts.last?.items.count == 2, "allowed explicitly")
        }
    }

    @Test(arguments: LedgerKind.available + LedgerKind.pooled)
    func purchasesAreSavedOnceAndItemTotalsRecomputed(kind: LedgerKind) async throws {
        try await LedgerKind.with(kind) { store in
            let ids = try await items(store, ["a.png", "b.png"])
            _ = try await store.claimSends(
                fan: Self.fan, items: ids, priceCents: 1000, context: SendContext(account: "a", drop: "d1", via: "send"),
                at: Self.now)
            try await store.confirmSends(fan: Self.fan, items: ids, messageUUID: "m-1", massMessageID: nil)
            let purchase = PurchaseRecord(
                transactionID: "t-1", fan: Self.fan, source: "message", messageUUID: "m-1", postUUID: nil, grossCents: 1001,
                netCents: 801, currency: "USD", status: "pendingBalance", at: Self.now)
            let result = Attribution.attribute([purchase], sends: try await store.allSends(), posts: [])
            #expect(result.shares.map(\.grossCents).reduce(0, +) == 1001, "split exactly")
            for round in 1...2 {
                let new = try await store.savePurchases(
                    [purchase], shares: result.shares, purchasedSends: result.purchasedSends.map { ($0.fan, $0.item, $0.at) },
                    account: "a", at: Self.now)
                #expect(new == (round == 1 ? 1 : 0))
                let saved = try await store.items(drop: nil)
                #expect(saved.map(\.timesPurchased) == [1, 1], "round \(round)")
                #expect(saved.map(\.revenueCents).reduce(0, +) == 801, "net revenue, round \(round)")
                #expect(try await store.purchases() == [purchase])
                #expect(try await store.purchaseShares().count == 2)
                #expect(try await store.allSends().allSatisfy { $0.purchasedAt == Self.now })
            }
            try await store.saveFans(
                account: "a", [FanRecord(uuid: Self.fan, handle: "f", displayName: "F", subscriber: true)], at: Self.now)
            try await store.saveFans(account: "a", [], at: Self.now)
            #expect(try await store.fans(account: "a").map(\.subscriber) == [false], "kept, no longer subscribed")
            try await store.setSyncValue("k", "v1", at: Self.now)
            try await store.setSyncValue("k", "v2", at: Self.now)
            #expect(try await store.syncValue("k") == "v2")
            #expect(try await store.syncValue("missing") == nil)
        }
    }

    /// Two holders of one key never overlap; different keys do not wait on each other.
    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func workLocksExcludeEachOther(backend: TestBackend) async throws {
        try await TestDatabase.withStore(backend) { _, database in
            let first = SQLRunStore.workLocks(for: database.url)
            let second = SQLRunStore.workLocks(for: database.url)
            let log = LockLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, locks) in [first, second, first, second].enumerated() {
                    group.addTask {
                        try await locks.withLocks(["send:a:1", "send:a:2"]) {
                            await log.enter(index)
                            try await Task.sleep(for: .milliseconds(40))
                            await log.leave(index)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await log.maximumInside == 1)
            #expect(await log.entries == 4)
            // A different key is free while one is held.
            try await first.withLock("upload:x") {
                try await second.withLock("upload:y") {}
            }
        }
    }
}

extension LedgerStoreTests {
    /// The PostgreSQL migrations applied by hand, one `psql -f` each in order (as on Supabase), leave a database
    /// elena-run takes as current: nothing to migrate, every table there.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func postgresMigrationsApplyByHandWithPsql() async throws {
        let database = try await TestDatabase.make(.postgres)
        try await withCleanup({ await database.remove() }) {
            let psql = ["/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) }
            let binary = try #require(psql, "psql is installed with the PostgreSQL server the tests start")
            // In the order and under the names the Supabase CLI uses (links to schema/sql/postgres).
            let folder = CommandLineRunner.repositoryRoot() + "/schema/supabase/migrations"
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sql") }.sorted()
            let url = database.urlText
            for file in files {
                // psql runs and is waited for off the cooperative pool (a blocking wait there starves other tests).
                let (status, message) = await offCooperativePool { () -> (Int32, String) in
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: binary)
                    process.arguments = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", folder + "/" + file]
                    let errors = Pipe()
                    process.standardError = errors
                    process.standardOutput = FileHandle.nullDevice
                    do {
                        try process.run()
                    } catch {
                        return (-1, "\(error)")
                    }
                    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    process.waitUntilExit()
                    return (process.terminationStatus, message)
                }
                #expect(status == 0, "psql -f \(file): \(message)")
            }
            let checked = try await SQLRunStore.open(database.url, readOnly: true)
            #expect(try await Migrator.currentVersion(checked.database) == Migrator.latestVersion)
            await checked.close()
            let store = try await SQLRunStore.open(database.url, readOnly: false)
            #expect(try await Migrator.migrate(store.database).isEmpty, "nothing left to apply")
            let purchases = try await store.purchases()
            #expect(purchases.isEmpty)
            await store.close()
        }
    }
}

extension LedgerStoreTests {
    /// `sslmode=require` encrypts the connection (the test server has a self-signed certificate), `disable` does
    /// not, and `verify-full` refuses a certificate nobody vouches for.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func postgresUsesTLSWhenTheURLAsksForIt() async throws {
        let admin = try #require(ProcessInfo.processInfo.environment["ELENA_POSTGRES_URL"], "ELENA_POSTGRES_URL is not set")
        func encrypted(_ mode: String) async throws -> Bool {
            let url = try DatabaseURL(parsing: admin.replacingOccurrences(of: "sslmode=disable", with: "sslmode=\(mode)"))
            let database = try await PostgresDatabase.connect(url)
            let rows = try await database.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            await database.close()
            return (rows.first?.int("ssl") ?? 0) != 0
        }
        #expect(try await encrypted("require"))
        #expect(try await !encrypted("disable"))
        let refused = await #expect(throws: StoreError.self) { _ = try await encrypted("verify-full") }
        #expect(refused?.description.contains("cannot connect to") == true)
    }
}

actor LockLog {
    private(set) var inside = 0
    private(set) var maximumInside = 0
    private(set) var entries = 0

    func enter(_ index: Int) {
        inside += 1
        entries += 1
        maximumInside = max(maximumInside, inside)
    }

    func leave(_ index: Int) { inside -= 1 }
}
