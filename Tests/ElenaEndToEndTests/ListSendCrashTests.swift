import ElenaCore
import ElenaEngine
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The real `elena-run` process killed with SIGKILL at random points of a `reconcile` and of list sends that leave
/// some fans out, then run to the end: every fan has each item exactly once, Fanvue holds one exclusion list per
/// send, not two, and the ledger agrees with the fake. The seed is printed; `ELENA_CRASH_SEED` replays a campaign.
@Suite(.serialized) struct ListSendCrashTests {
    static let fans = (0..<300).map { String(format: "9d0e0000-0000-4000-8000-%012d", $0) }
    static let items = 3
    /// Fans per item who got it by hand before.
    static let byHand = 10

    /// Kills `arguments` somewhere (see `FanvueHarness.killSomewhere`); false when the run ended by itself first.
    static func killSomewhere(
        _ arguments: [String], runner: CommandLineRunner, harness: FanvueHarness, log: String, random: inout SeededRandom
    ) async throws -> Bool {
        let outcome = try await harness.killSomewhere(arguments, runner: runner, log: log, maxCalls: 8, maxPause: 0.4, random: &random)
        if case .finished(let code, let log) = outcome {
            #expect(code == 0, "a run that was not killed ended with exit \(code)\n\(log)")
            return false
        }
        return true
    }

    @Test(arguments: TestBackend.available)
    func killedDuringReconcileAndListSendsNobodyGetsAnItemTwice(_ backend: TestBackend) async throws {
        var (seed, random) = SeededRandom.campaign("list-send crash campaign on \(backend)")
        let harness = try await FanvueHarness.start {
            $0.rateLimit = 100_000
            $0.answerDelay = 0.01  // the fake has acted but the answer is not out yet: a kill lands in between
        }
        let database = try await TestDatabase.make(backend)
        try await withCleanup({ await harness.stop(); await database.remove() }) {
            var drop = try FanvueDrop.make(harness, images: Self.items)
            drop.database = database.url
            _ = try await drop.run()
            try drop.approveAll()
            #expect(try await drop.run().failureCount == 0)
            let fake = harness.fake
            let media = fake.media.map(\.uuid)
            #expect(media.count == Self.items)
            fake.seedSubscribers(Self.fans.map { .object(["uuid": .string($0), "handle": .string("fan")]) })
            for (index, uuid) in media.enumerated() {
                for fan in Self.fans[(index * Self.byHand)..<((index + 1) * Self.byHand)] {
                    fake.sendByHand(to: fan, mediaUUIDs: [uuid], priceCents: 900)
                }
            }
            let runner = CommandLineRunner(
                environment: drop.processEnvironment(database: database.urlText), workingDirectory: harness.folder.path)
            let log = harness.folder("runs.log")

            // Reconcile, killed again and again, then to the end: every hand send recorded once.
            var kills = 0
            while kills < 6, try await Self.killSomewhere(["reconcile"], runner: runner, harness: harness, log: log, random: &random) {
                kills += 1
            }
            let reconciled = try await runner.run(["reconcile", "--json"])
            #expect(reconciled.exitCode == 0, "\(reconciled)")
            let store = try await drop.store()
            var sends = try await store.allSends()
            #expect(sends.count == Self.items * Self.byHand && sends.allSatisfy { $0.via == "manual" }, "\(sends.count) sends")

            // Each item to the whole list, killed at random points until a run gets through.
            let items = try await store.items(drop: "fv").sorted { $0.originalName < $1.originalName }
            for item in items {
                let arguments = ["send", item.id.hex, "--to", "subscribers", "--price", "12"]
                var itemKills = 0
                while itemKills < 5, try await Self.killSomewhere(arguments, runner: runner, harness: harness, log: log, random: &random) {
                    itemKills += 1
                }
                kills += itemKills
                let last = try await runner.run(arguments)
                #expect(last.exitCode == 0, "the send after the kills completes\n\(last)")
            }
            print("\(backend): \(kills) kills (seed \(seed), \(fake.calls.count) calls)")

            // Fanvue: every fan has each item exactly once; one mass message and one exclusion list per item.
            for uuid in media {
                for fan in Self.fans {
                    let copies = fake.messages.filter {
                        $0["fanUuid"]?.stringValue == fan && ($0["mediaUuids"]?.arrayValue ?? []).contains(.string(uuid))
                    }
                    #expect(copies.count == 1, "fan \(fan) has media \(uuid) \(copies.count) times (seed \(seed))")
                }
                let sent = fake.massMessages.filter {
                    $0["status"]?.stringValue == "SENT" && $0["mediaUuids"]?.arrayValue == [.string(uuid)]
                }
                #expect(sent.count == 1, "one mass message for \(uuid), not \(sent.count) (seed \(seed))")
                #expect(sent.first?["recipientCount"]?.intValue == Self.fans.count - Self.byHand)
            }
            let exclusionLists = fake.customLists.filter { $0.key.hasPrefix("elena-run:") }
            #expect(exclusionLists.count == Self.items, "one exclusion list per send: \(exclusionLists.keys.sorted())")
            #expect(exclusionLists.values.allSatisfy { $0.count == Self.byHand })

            // The ledger agrees: one confirmed send per fan and item.
            sends = try await store.allSends()
            #expect(sends.count == Self.items * Self.fans.count, "\(sends.count) sends (seed \(seed))")
            let unconfirmed = sends.filter { !$0.isConfirmed }.count
            #expect(unconfirmed == 0, "\(unconfirmed) unconfirmed")
            await store.close()
        }
    }
}
