import ElenaCore
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The real `elena-run` process, killed with SIGKILL at random points of a 30-image upload to the fake Fanvue,
/// again and again, then run to the end: every approved item is in the vault exactly once, nothing is lost, and
/// the store agrees with the fake. The seed is printed; `ELENA_CRASH_SEED` replays a failing campaign.
@Suite(.serialized) struct FanvueCrashTests {
    /// `make test` runs 30 images and 20 kills; `make crash` 200 and 50 (`ELENA_CRASH_IMAGES`, `ELENA_CRASH_KILLS`).
    static let images = ProcessInfo.processInfo.environment["ELENA_CRASH_IMAGES"].flatMap(Int.init) ?? 30
    static let kills = ProcessInfo.processInfo.environment["ELENA_CRASH_KILLS"].flatMap(Int.init) ?? 20

    @Test(arguments: TestBackend.available)
    func killedAtRandomPointsDuringAThirtyImageUploadItNeitherLosesNorDuplicates(_ backend: TestBackend) async throws {
        var (seed, random) = SeededRandom.campaign("crash campaign on \(backend)")
        let harness = try await FanvueHarness.start {
            $0.rateLimit = 100_000  // this test is about kills; pacing has its own tests
            $0.answerDelay = 0.015  // the fake has acted but the answer is not out yet: a kill lands in between
            $0.readyAfterPolls = 1
        }
        let database = try await TestDatabase.make(backend)
        try await withCleanup({ await harness.stop(); await database.remove() }) {
            let drop = try FanvueDrop.make(harness, images: Self.images)
            let environment = drop.processEnvironment(database: backend == .postgres ? database.urlText : nil)
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            let log = harness.folder("runs.log")

            let first = try await runner.run(["drop.yaml"])
            #expect(first.exitCode == 3, "the first run stops at the review gate\n\(first)")
            try drop.approveAll()

            // Kill at a random point: after the fake has received 1 to 6 more calls (so the kill lands inside the
            // upload flow, often between the fake acting and the answer arriving), or after a random time from start
            // (anywhere: opening the database, planning, mid-request).
            var kills = 0
            var readyAtKill: [Int] = []
            var finishedEarly = false
            var attempt = 0
            while kills < Self.kills && attempt < 4 * Self.kills {
                attempt += 1
                let outcome = try await harness.killSomewhere(
                    ["drop.yaml"], runner: runner, log: log, maxCalls: 6, maxPause: 0.6, random: &random)
                guard case .killed(let bySignal) = outcome else {
                    if case .finished(let code, let log) = outcome {
                        #expect(code == 0, "a run that was not killed ended with exit \(code)\n\(log)")
                    }
                    finishedEarly = true
                    break
                }
                #expect(bySignal)
                kills += 1
                readyAtKill.append(harness.fake.media.filter { $0.status == .ready }.count)
            }
            print("ready media at each kill: \(readyAtKill)")
            let midUpload = readyAtKill.filter { $0 < Self.images }.count
            #expect(midUpload >= Self.kills / 2, "most kills land while uploads remain (\(readyAtKill))")
            #expect(!finishedEarly, "the upload finished after only \(kills) kills; the campaign needs \(Self.kills)")
            #expect(kills >= Self.kills)

            let last = try await runner.run(["drop.yaml"])
            #expect(last.exitCode == 0, "the run after the kills completes\n\(last)\n\(String(last.standardOutput.suffix(2000)))")

            let orphans = harness.fake.media.filter { $0.status == .created }
            var leftovers: [String] = []
            for path in FileManager.default.subpaths(atPath: drop.layout.root) ?? [] where PathText.lastComponent(path).hasPrefix(".tmp-") {
                leftovers.append(path)
            }
            let ready = harness.fake.media.filter { $0.status == .ready }
            let digests = Set(ready.compactMap(\.sha256))
            let vault = harness.fake.folders["elena-ppv"] ?? []
            let lost = Self.images - digests.count
            let duplicated = ready.count - digests.count
            print(
                "\(backend): kills: \(kills), lost: \(lost), duplicated: \(duplicated), orphan upload sessions: \(orphans.count), "
                    + "half-written files: \(leftovers.count) (seed \(seed), \(harness.fake.calls.count) calls)")
            #expect(leftovers.isEmpty, "no half-written file is left in the library: \(leftovers)")
            #expect(ready.count == Self.images, "exactly one ready media per approved item")
            #expect(digests.count == Self.images, "thirty different crops")
            #expect(vault.count == Self.images && Set(vault) == Set(ready.map(\.uuid)), "every ready media is in the vault once")

            let store = try await SQLRunStore.open(backend == .postgres ? database.url : DatabaseURL(sqlitePath: drop.layout.defaultDatabase), readOnly: false)
            let account = harness.fake.configuration.userUUID
            for media in ready {
                let digest = try #require(media.sha256.flatMap(Digest.init(hex:)))
                let upload = try await store.upload(contentDigest: digest, account: account)
                #expect(upload?.status == .ready && upload?.mediaUUID == media.uuid, "the store knows \(media.uuid) as ready")
            }
            let items = try await store.items(drop: "fv")
            #expect(items.count == Self.images)
            #expect(items.allSatisfy { $0.status == .published })
            #expect(Set(items.compactMap(\.fanvueMediaUUID)) == Set(ready.map(\.uuid)), "the store and the fake agree")
            #expect(try await store.vaultMedia(account: account, folder: "elena-ppv") == Set(vault))
            // The database itself is sound.
            if backend == .sqlite {
                let check = try await store.database.query("PRAGMA integrity_check")
                #expect(check.first?.string("integrity_check") == "ok", "\(check)")
                #expect(try await store.database.query("PRAGMA foreign_key_check").isEmpty)
            } else {
                let invalid = try await store.database.query("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid")
                #expect(invalid.first?.int("n") == 0)
            }
            await store.close()

            // And once done, a rerun writes nothing.
            let mark = harness.fake.calls.count
            let rerun = try await runner.run(["drop.yaml"])
            #expect(rerun.exitCode == 0)
            #expect(harness.writes(since: mark).isEmpty, "\(harness.writes(since: mark))")
        }
    }
}
