import ElenaCore
import ElenaEngine
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// `send`, `sync`, `stats` and `suggest` through the `elena-run` binary against the fake Fanvue, on a real SQLite
/// file and a real PostgreSQL database: an item never reaches a fan twice by any path, a feed post of a sold item
/// is refused before any call, and sync is idempotent.
@Suite struct LedgerCommandTests {
    static let fans = (1...9).map { "7c1b1c1e-1111-4aaa-8bbb-00000000000\($0)" }

    /// A drop of three approved images uploaded to the fake, with a manifest message to fans[0].
    static func setUp(_ backend: TestBackend) async throws -> PublishedDrop {
        try await PublishedDrop.start(
            backend, images: 3,
            extra: """
                  tags: [red, dress]
                  message: {to: [\(fans[0])], price: 10.00}
                """)
    }

    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func anItemReachesAFanOnceByAnyPath(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let fake = setup.harness.fake
            let runner = setup.runner
            #expect(setup.messages(to: Self.fans[0]).count == 1, "the manifest's message")

            // The same items to the same fan through `send`: skipped, reported, and not one call to Fanvue.
            var mark = fake.calls.count
            let again = try await runner.run(["send", "drop:fv", "--to", Self.fans[0], "--price", "9.99"])
            #expect(again.exitCode == 0, "\(again)")
            #expect(again.standardOutput.contains("skipped \(Self.fans[0]): had it: sent by drop fv on "), "\(again)")
            #expect(again.standardOutput.contains("0 sends to 0 fans at $9.99, 3 skipped (already sent)"), "\(again)")
            #expect(fake.calls.count == mark, "a refused send costs no API call")
            #expect(setup.messages(to: Self.fans[0]).count == 1)

            // A dry run says who would get what and touches nothing.
            let dry = try await runner.run(["send", "drop:fv", "--to", Self.fans[1], "--price", "9.99", "--dry-run", "--json"])
            #expect(dry.exitCode == 0, "\(dry)")
            let plan = try JSONValue.parse(dry.standardOutput)
            #expect(plan["sent"]?.intValue == 3 && plan["dry_run"]?.boolValue == true)
            #expect(fake.calls.count == mark && setup.messages(to: Self.fans[1]).isEmpty)

            let sent = try await runner.run(["send", "drop:fv", "--to", Self.fans[1], "--price", "9.99"])
            #expect(sent.exitCode == 0, "\(sent)")
            #expect(setup.messages(to: Self.fans[1]).count == 1)
            #expect(setup.messages(to: Self.fans[1]).first?["price"]?.intValue == 999)
            #expect(setup.messages(to: Self.fans[1]).first?["mediaUuids"]?.arrayValue?.count == 3)
            #expect(try await setup.sends(to: Self.fans[1]).count == 3)
            #expect(try await setup.sends(to: Self.fans[1]).allSatisfy { $0.via == "send" && $0.messageUUID != nil })

            // Two processes at once, same items, same fan: one message, one row per item.
            async let first = runner.run(["send", "drop:fv", "--to", Self.fans[2], "--price", "9.99"])
            async let second = runner.run(["send", "drop:fv", "--to", Self.fans[2], "--price", "9.99"])
            let (one, two) = try await (first, second)
            #expect(one.exitCode == 0 && two.exitCode == 0, "\(one)\n\(two)")
            #expect(setup.messages(to: Self.fans[2]).count == 1, "\(one)\n\(two)")
            #expect(try await setup.sends(to: Self.fans[2]).count == 3)

            // A list where some members already have the items: only the others get a message, one to one.
            fake.seedSubscribers([Self.fans[0], Self.fans[1], Self.fans[3]].map { .object(["uuid": .string($0), "handle": .string("f")]) })
            let list = try await runner.run(["send", "drop:fv", "--to", "subscribers", "--price", "12"])
            #expect(list.exitCode == 0, "\(list)")
            #expect(fake.massMessages.isEmpty, "a mass message cannot leave out the fans who have the items")
            #expect(setup.messages(to: Self.fans[3]).count == 1)
            #expect(setup.messages(to: Self.fans[0]).count == 1 && setup.messages(to: Self.fans[1]).count == 1)
            #expect(list.standardOutput.contains("3 sends to 1 fan at $12.00, 6 skipped (already sent) · list Subscribers"), "\(list)")

            // A list where nobody has them: one mass message; then nothing twice.
            fake.seedCustomList(name: "VIP", members: [Self.fans[4], Self.fans[5]])
            let vip = try await runner.run(["send", "drop:fv", "--to", "vip", "--price", "15"])
            #expect(vip.exitCode == 0, "\(vip)")
            #expect(fake.massMessages.count == 1)
            #expect(fake.massMessages.first?["price"]?.intValue == 1500)
            #expect(try await setup.sends(to: Self.fans[4]).allSatisfy { $0.massMessageID != nil && $0.listName == "VIP" })
            mark = fake.calls.count
            let vipAgain = try await runner.run(["send", "drop:fv", "--to", "vip", "--price", "15"])
            #expect(vipAgain.exitCode == 0, "\(vipAgain)")
            #expect(fake.massMessages.count == 1)
            #expect(setup.harness.writes(since: mark).isEmpty, "only reads (the list's members)")
            #expect(setup.messages(to: Self.fans[4]).count == 1 && setup.messages(to: Self.fans[5]).count == 1)

            // Bad input is named.
            let unknown = try await runner.run(["send", "abcdef12", "--to", Self.fans[6]])
            #expect(unknown.exitCode == 2 && unknown.standardError.contains("abcdef12: no item id starts with it"), "\(unknown)")
            let cheap = try await runner.run(["send", "drop:fv", "--to", Self.fans[6], "--price", "1"])
            #expect(cheap.exitCode == 2 && cheap.standardError.contains("at least 3.00"), "\(cheap)")
            let noList = try await runner.run(["send", "drop:fv", "--to", "nobody"])
            #expect(noList.exitCode == 2 && noList.standardError.contains("'nobody' is neither a fan uuid nor a list"), "\(noList)")
            // Fanvue's smart lists are a closed set: a name from an old tutorial is refused with the real ones.
            let allFans = try await runner.run(["send", "drop:fv", "--to", "all_fans"])
            #expect(allFans.exitCode == 2, "\(allFans)")
            #expect(allFans.standardError.contains("lists on Fanvue: Subscribers (subscribers), Auto-renewing (auto_renewing)"), "\(allFans)")

            // A later drop of the same pictures with a feed post: they belong to drop fv (reviewed and published
            // there), so that drop leaves them out and says so; nothing is posted.
            let withPost = setup.drop.manifestText
                .replacingOccurrences(of: "message: {to: [\(Self.fans[0])], price: 10.00}", with: "post: {audience: subscribers}")
            try setup.harness.folder.write(withPost.replacingOccurrences(of: "drop: fv", with: "drop: fv-post"), to: "post.yaml")
            mark = fake.calls.count
            let later = try await runner.run(["post.yaml"])
            #expect(later.exitCode == 0, "\(later)")
            #expect(later.standardOutput.contains("3 images are already in drop fv, published there"), "\(later)")
            #expect(!fake.calls.dropFirst(mark).contains { $0.path == "/posts" })

            // A feed post of these (sold as pay-per-view) items in their own drop is refused, with no call to create it.
            try setup.harness.folder.write(withPost, to: "drop.yaml")
            mark = fake.calls.count
            let post = try await runner.run(["drop.yaml"])
            #expect(post.exitCode == 1, "\(post)")
            #expect(post.standardOutput.contains("refusing to post 3 items already sent or sold as pay-per-view"), "\(post)")
            #expect(!fake.calls.dropFirst(mark).contains { $0.path == "/posts" }, "refused before any API call")
            #expect(fake.posts.isEmpty)
        }
    }

    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func syncIsIdempotentAndStatsAndSuggestReflectPurchases(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let fake = setup.harness.fake
            let runner = setup.runner
            let sent = try await runner.run(["send", "drop:fv", "--to", Self.fans[1], "--price", "20"])
            #expect(sent.exitCode == 0, "\(sent)")
            fake.seedCustomList(name: "VIP", members: [Self.fans[4], Self.fans[5]])
            #expect(try await runner.run(["send", "drop:fv", "--to", "VIP", "--price", "15"]).exitCode == 0)

            // Purchases: fans[0] buys the manifest's message, fans[1] the one from `send`, fans[4] the mass message's
            // copy in their chat; plus a tip no item earned.
            try fake.purchase(message: try #require(setup.messages(to: Self.fans[0]).first?["messageUuid"]?.stringValue))
            try fake.purchase(message: try #require(setup.messages(to: Self.fans[1]).first?["messageUuid"]?.stringValue))
            try fake.purchase(message: try #require(setup.messages(to: Self.fans[4]).first?["messageUuid"]?.stringValue))
            fake.seedEarning(
                .object([
                    "date": .string(Timestamp.format(Date())), "gross": .int(500), "net": .int(400), "currency": .string("USD"),
                    "source": .string("tip"), "transactionOrderId": .string("txn_tip"),
                    "user": .object(["uuid": .string(Self.fans[8])]),
                ]))
            fake.seedSubscribers(Self.fans.prefix(6).map { .object(["uuid": .string($0), "handle": .string("f")]) })

            let first = try await runner.run(["sync", "--json"])
            #expect(first.exitCode == 0, "\(first)")
            let summary = try JSONValue.parse(first.standardOutput)
            #expect(summary["new"]?.intValue == 4)
            #expect(summary["attributed"]?.intValue == 3)
            #expect(summary["unattributed"]?.intValue == 1)
            #expect(summary["subscribers"]?.intValue == 6)
            let statsBefore = try await runner.run(["stats", "--json"])
            #expect(statsBefore.exitCode == 0, "\(statsBefore)")

            let second = try await runner.run(["sync", "--json"])
            #expect(second.exitCode == 0, "\(second)")
            #expect(try JSONValue.parse(second.standardOutput)["new"]?.intValue == 0)
            let statsAfter = try await runner.run(["stats", "--json"])
            #expect(statsAfter.standardOutput == statsBefore.standardOutput, "sync twice gives the same numbers")

            let stats = try JSONValue.parse(statsAfter.standardOutput)
            // 1000 (manifest) + 2000 (send) + 1500 (mass message) gross; net is 80%.
            #expect(stats["total"]?["gross_cents"]?.intValue == 4500)
            #expect(stats["total"]?["net_cents"]?.intValue == 3600)
            #expect(stats["total"]?["sends"]?.intValue == 12, "3 items to 4 fans")
            #expect(stats["total"]?["bought"]?.intValue == 9)
            #expect(stats["unattributed"]?["purchases"]?.intValue == 1)
            #expect(stats["prices"]?.arrayValue?.first?["key"]?.stringValue == "$20.00", "the best price point first")
            #expect(stats["tags"]?.arrayValue?.contains { $0["key"]?.stringValue == "red" && $0["net_cents"]?.intValue == 3600 } == true)
            let store = try await setup.drop.store()
            let items = try await store.items(drop: nil)
            await store.close()
            #expect(items.map(\.timesPurchased) == [3, 3, 3])
            #expect(items.map(\.revenueCents).reduce(0, +) == 3600)

            let text = try await runner.run(["stats", "--html", "report.html"])
            #expect(text.exitCode == 0 && text.standardOutput.contains("total: $36.00 net ($45.00 gross)"), "\(text)")
            let html = try String(contentsOfFile: setup.harness.folder("report.html"), encoding: .utf8)
            #expect(html.contains("<svg") && html.contains("$36.00 net"))

            let suggest = try await runner.run(["suggest", "--fan", Self.fans[7], "--json"])
            #expect(suggest.exitCode == 0, "\(suggest)")
            let ranked = try JSONValue.parse(suggest.standardOutput)["suggestions"]?.arrayValue ?? []
            #expect(ranked.count == 3)
            #expect(ranked.first?["suggested_price_cents"]?.intValue == 2000, "the price these items sold best at")
            let none = try await runner.run(["suggest", "--fan", Self.fans[1]])
            #expect(none.standardOutput.contains("nothing to suggest"), "\(none)")
        }
    }

    /// Two runners of the same drop at once, sharing the database: every image is uploaded once, the manifest's
    /// message reaches each fan once, and both runs finish cleanly.
    @Test(arguments: TestBackend.available + TestBackend.pooled)
    func twoRunnersOfOneDropUploadAndSendOnce(backend: TestBackend) async throws {
        let harness = try await FanvueHarness.start()
        let database = try await TestDatabase.make(backend)
        defer {
            Task {
                await database.remove()
                await harness.stop()
            }
        }
        var drop = try FanvueDrop.make(
            harness, images: 6, extra: "  message: {to: [\(Self.fans[0]), \(Self.fans[1])], price: 10.00}\n")
        drop.database = database.url
        let environment = drop.processEnvironment(database: database.urlText)
        let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
        let review = try await runner.run(["drop.yaml"])
        #expect(review.exitCode == 3, "\(review)")
        try drop.approveAll()

        async let first = runner.run(["drop.yaml", "--jobs", "2"])
        async let second = runner.run(["drop.yaml", "--jobs", "2"])
        let (one, two) = try await (first, second)
        #expect(one.exitCode == 0 && two.exitCode == 0, "\(one)\n\(two)")
        let fake = harness.fake
        #expect(fake.media.count == 6, "each image uploaded once, not twice")
        #expect(Set(fake.media.compactMap(\.sha256)).count == 6)
        #expect(fake.folders["elena-ppv"]?.count == 6)
        for fan in Self.fans.prefix(2) {
            let messages = fake.messages.filter { $0["fanUuid"]?.stringValue == fan }
            #expect(messages.count == 1, "one message to \(fan)")
            #expect(messages.first?["mediaUuids"]?.arrayValue?.count == 6)
        }
        let store = try await drop.store()
        let sends = try await store.allSends()
        await store.close()
        #expect(sends.count == 12 && sends.allSatisfy { $0.messageUUID != nil && $0.via == "manifest" && $0.drop == "fv" })
        let rerun = try await runner.run(["drop.yaml"])
        #expect(rerun.exitCode == 0, "\(rerun)")
        #expect(fake.media.count == 6 && fake.messages.count == 2)
    }
}
