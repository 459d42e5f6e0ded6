import ElenaCore
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The ledger's PostgreSQL server restarted again and again while a 60-image drop uploads, posts and sends to the
/// fake Fanvue, each restart right after the fake has acted on a call and before its answer arrives (the fake holds
/// every answer 15 ms): the ledger's write that follows Fanvue's answer meets a dead connection. The run waits for
/// the database, goes on, and nothing is uploaded, posted or sent twice. Directly and through PgBouncer.
/// `ELENA_FAULT_SEED` replays a campaign.
@Suite(.serialized) struct DatabaseFaultTests {
    /// `make test`: 60 images, 6 restarts; `make crash`: `ELENA_CRASH_IMAGES` and `ELENA_CRASH_DB_RESTARTS`.
    static let images = ProcessInfo.processInfo.environment["ELENA_CRASH_IMAGES"].flatMap(Int.init).map { max($0, 60) } ?? 60
    static let restarts = ProcessInfo.processInfo.environment["ELENA_CRASH_DB_RESTARTS"].flatMap(Int.init) ?? 6
    static let fans = ["7c1b1c1e-1111-4aaa-8bbb-000000000001", "7c1b1c1e-1111-4aaa-8bbb-000000000002"]

    @Test(arguments: ["direct", "pooler"])
    func theDatabaseRestartedBetweenFanvuesAnswersAndTheLedgersWritesNeverDoublesAnUploadPostOrSend(_ route: String)
        async throws
    {
        let seed =
            ProcessInfo.processInfo.environment["ELENA_FAULT_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
        print("database restarts during a Fanvue upload (\(route)): seed \(seed) (replay with ELENA_FAULT_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        let harness = try await FanvueHarness.start {
            $0.rateLimit = 100_000
            $0.answerDelay = 0.015
            $0.readyAfterPolls = 1
        }
        let server = try await ScratchPostgres.start(pooler: route == "pooler")
        try await withCleanup({ await harness.stop(); await server.remove() }) {
            let url = route == "pooler" ? try #require(server.poolerURL) : server.url
            let drop = try FanvueDrop.make(
                harness, images: Self.images,
                extra: """
                      post: {audience: subscribers, price: 15.00, allow_ppv_items: true}
                      message: {to: [\(Self.fans.joined(separator: ", "))]}
                    """)
            let environment = drop.processEnvironment(database: url)
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            let first = try await runner.run(["drop.yaml"])
            #expect(first.exitCode == 3, "the first run stops at the review gate\n\(first)")
            try drop.approveAll()

            let process = try runner.start(["drop.yaml"], logPath: harness.folder("run.log"))
            var restarts: [Int] = []
            while process.isRunning && restarts.count < Self.restarts {
                let mark = harness.writes(since: 0).count
                let after = Int.random(in: 1...12, using: &random)
                let deadline = Date().addingTimeInterval(60)
                while process.isRunning && harness.writes(since: 0).count - mark < after && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
                guard process.isRunning else { break }
                // Frozen while the server restarts: the answer to the call the fake just acted on arrives after it.
                try await process.paused { try await server.restart() }
                restarts.append(harness.writes(since: 0).count)
            }
            let code = await process.wait(atMost: 120)
            if code == nil {
                process.kill()
                await process.wait()
            }
            let log = process.log
            print("restarts after write calls \(restarts); exit \(code.map(String.init) ?? "none (hung)")")
            #expect(code == 0, "the run went on after every restart and finished (restarts at \(restarts))\n\(log)")
            #expect(restarts.count >= Self.restarts / 2, "most restarts landed while the run worked (\(restarts))")
            #expect(!log.contains("PSQLError") && !log.contains("Generic description"), "\(log)")

            // Whatever the last run left, the next one completes, and from then on nothing is doubled.
            let last = try await runner.run(["drop.yaml"])
            #expect(last.exitCode == 0, "\(last)")

            let ready = harness.fake.media.filter { $0.status == .ready }
            #expect(ready.count == Self.images, "exactly one ready media per approved item (\(ready.count))")
            #expect(Set(ready.compactMap(\.sha256)).count == Self.images, "one crop per image")
            let vault = harness.fake.folders["elena-ppv"] ?? []
            #expect(vault.count == Self.images && Set(vault) == Set(ready.map(\.uuid)), "every ready media in the vault once")
            #expect(harness.fake.posts.count == 1, "one post (\(harness.fake.posts.count))")
            var received: [String: [String]] = [:]
            for message in harness.fake.messages {
                let fan = message["fanUuid"]?.stringValue ?? "?"
                received[fan, default: []] += message["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            for fan in Self.fans {
                let media = received[fan] ?? []
                #expect(media.count == Self.images && Set(media) == Set(ready.map(\.uuid)), "fan \(fan) got each item once (\(media.count))")
            }

            let store = try await SQLRunStore.open(try DatabaseURL(parsing: url), readOnly: false)
            let items = try await store.items(drop: "fv")
            #expect(items.count == Self.images && items.allSatisfy { $0.status == .published })
            #expect(Set(items.compactMap(\.fanvueMediaUUID)) == Set(ready.map(\.uuid)), "the store and the fake agree")
            for fan in Self.fans {
                let sends = try await store.sends(fan: fan)
                #expect(sends.count == Self.images && sends.values.allSatisfy { $0 != nil }, "every send confirmed for \(fan)")
            }
            #expect(try await store.allPosts().count == 1)
            await store.close()

            let mark = harness.fake.calls.count
            let rerun = try await runner.run(["drop.yaml"])
            #expect(rerun.exitCode == 0)
            #expect(harness.writes(since: mark).isEmpty, "a rerun writes nothing: \(harness.writes(since: mark))")
        }
    }
}
