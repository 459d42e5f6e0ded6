import ElenaCore
import ElenaEngine
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// `reconcile` and exact audiences through the `elena-run` binary against the fake Fanvue: what the creator sent by
/// hand in Fanvue's own pages counts for every guard, and a list where a few fans already have an item gets one mass
/// message that leaves exactly those fans out.
@Suite struct ReconcileTests {
    /// 40 subscribers.
    static let fans = (1...40).map { String(format: "7c1b1c1e-2222-4aaa-8bbb-%012d", $0) }

    /// A published drop and the items' Fanvue media by name.
    struct Setup {
        let published: PublishedDrop
        let media: [String: String]

        var harness: FanvueHarness { published.harness }
        var fake: FakeFanvue { published.harness.fake }
        /// The two pictures' names (their crops'), in order.
        var first: String { media.keys.sorted()[0] }
        var second: String { media.keys.sorted()[1] }
        var drop: FanvueDrop { published.drop }
        var runner: CommandLineRunner { published.runner }
        func stop() async { await published.stop() }
        func messages(to fan: String) -> [JSONValue] { published.messages(to: fan) }
        func sends(to fan: String) async throws -> [SendRecord] { try await published.sends(to: fan) }
    }

    /// A drop of two approved images uploaded to the fake (no message), and 40 subscribers.
    static func setUp(_ backend: TestBackend) async throws -> Setup {
        let published = try await PublishedDrop.start(backend, images: 2, extra: "  tags: [red]")
        let store = try await published.drop.store()
        let items = try await store.items(drop: nil)
        await store.close()
        var media: [String: String] = [:]
        for item in items { media[item.croppedName ?? item.originalName] = item.fanvueMediaUUID }
        published.harness.fake.seedSubscribers(fans.map { .object(["uuid": .string($0), "handle": .string("fan")]) })
        return Setup(published: published, media: media)
    }

    @Test(arguments: TestBackend.available)
    func aSendByHandCountsAndTheListGetsOneExactMassMessage(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let (fake, runner, first) = (setup.fake, setup.runner, setup.first)
            let firstMedia = try #require(setup.media[first])
            // By hand in Fanvue's chat page: fans[3] gets the first picture; fans[5] gets the same bytes uploaded by
            // hand (a media elena-run never saw); fans[7] gets an unrelated upload.
            let handDay = try #require(Timestamp.parse("2026-11-30T12:00:00Z"))
            fake.sendByHand(to: Self.fans[3], mediaUUIDs: [firstMedia], priceCents: 900, at: handDay)
            let copy = fake.uploadByHand(try #require(fake.uploadedBytes(firstMedia)))
            fake.sendByHand(to: Self.fans[5], mediaUUIDs: [copy], at: handDay)
            fake.sendByHand(to: Self.fans[7], mediaUUIDs: [fake.uploadByHand(Array(repeating: 7, count: 64))], at: handDay)

            // Without reconciling, the ledger knows nothing of it.
            #expect(try await setup.sends(to: Self.fans[3]).isEmpty)

            let reconcile = try await runner.run(["reconcile", "--json"])
            #expect(reconcile.exitCode == 0, "\(reconcile)")
            let summary = try JSONValue.parse(reconcile.standardOutput)
            #expect(summary["chats_read"]?.intValue == 3, "\(summary)")
            #expect(summary["sends_recorded"]?.intValue == 2, "\(summary)")
            #expect(summary["external_media_tied"]?.intValue == 1 && summary["external_media_unknown"]?.intValue == 1, "\(summary)")
            let handSends = try await setup.sends(to: Self.fans[3])
            #expect(handSends.count == 1 && handSends.first?.via == "manual" && handSends.first?.priceCents == 900)
            #expect(try await setup.sends(to: Self.fans[5]).map(\.via) == ["manual"], "tied by its bytes")

            // A second reconcile reads only what is new: one batch call for three chats, nothing recorded.
            let again = try await runner.run(["reconcile", "--json"])
            #expect(try JSONValue.parse(again.standardOutput)["sends_recorded"]?.intValue == 0, "\(again)")

            // One fan: skipped with the reason, not one call to Fanvue.
            var mark = fake.calls.count
            let one = try await runner.run(["send", first, "--to", Self.fans[3], "--price", "9"])
            #expect(one.exitCode == 0, "\(one)")
            #expect(one.standardOutput.contains("skipped \(Self.fans[3]): had it: sent by hand on 2026-11-30"), "\(one)")
            #expect(fake.calls.count == mark)

            // The list: the dry run says who is left out, why, and what it costs.
            let dry = try await runner.run(["send", first, "--to", "subscribers", "--price", "12", "--dry-run", "--json"])
            #expect(dry.exitCode == 0, "\(dry)")
            let plan = try JSONValue.parse(dry.standardOutput)
            let audience = try #require(plan["audience"])
            #expect(audience["members"]?.intValue == 40 && audience["recipients"]?.intValue == 38, "\(audience)")
            let excluded = audience["excluded"]?.arrayValue ?? []
            #expect(Set(excluded.compactMap { $0["fan"]?.stringValue }) == [Self.fans[3], Self.fans[5]])
            #expect(excluded.allSatisfy { $0["reason"]?.stringValue == "had it: sent by hand on 2026-11-30" }, "\(excluded)")
            #expect(audience["requests"]?["writes"]?.intValue == 3, "a new list, one member call, one mass message")
            #expect(audience["requests"]?["one_to_one_instead"]?.intValue == 38)
            let predicted = try #require(audience["requests"]?["total"]?.intValue)
            let text = try await runner.run(["send", first, "--to", "subscribers", "--price", "12", "--dry-run"])
            #expect(text.standardOutput.contains("38 get one mass message"), "\(text)")
            #expect(text.standardOutput.contains("2 left out, through the custom list"), "\(text)")
            #expect(text.standardOutput.contains("skipped \(Self.fans[5]): had it: sent by hand on 2026-11-30"), "\(text)")

            mark = fake.calls.count
            let sent = try await runner.run(["send", first, "--to", "subscribers", "--price", "12"])
            #expect(sent.exitCode == 0, "\(sent)")
            let calls = Array(fake.calls.dropFirst(mark)).filter { !$0.path.hasPrefix("/oauth2") }
            #expect(calls.count == predicted, "the dry run predicted \(predicted) requests: \(calls)")
            #expect(setup.harness.writes(since: mark).count == 3, "\(setup.harness.writes(since: mark))")
            #expect(fake.massMessages.count == 1)
            let mass = try #require(fake.massMessages.first)
            let exclusion = try #require(mass["excludedLists"]?["customListUuids"]?.arrayValue?.first?.stringValue)
            let lists = fake.customLists
            let listName = try #require(lists.first { $0.value.count == 2 }?.key)
            #expect(Set(lists[listName] ?? []) == [Self.fans[3], Self.fans[5]], "exactly the fans who had it")
            #expect(mass["recipientCount"]?.intValue == 38)
            #expect(mass["price"]?.intValue == 1200)
            #expect(!exclusion.isEmpty)
            #expect(setup.messages(to: Self.fans[3]).count == 1 && setup.messages(to: Self.fans[5]).count == 1, "only the hand sends")
            #expect(setup.messages(to: Self.fans[0]).count == 1 && setup.messages(to: Self.fans[39]).count == 1)
            #expect(sent.standardOutput.contains("sent in one mass message to 38 fans"), "\(sent)")
            let sends = try await setup.sends(to: Self.fans[0])
            #expect(sends.count == 1 && sends.first?.massMessageID == mass["id"]?.stringValue && sends.first?.campaignID != nil)

            // Again: everyone has it; nothing is written, and the second item reuses the same kind of plan.
            mark = fake.calls.count
            let rerun = try await runner.run(["send", first, "--to", "subscribers", "--price", "12"])
            #expect(rerun.exitCode == 0, "\(rerun)")
            #expect(setup.harness.writes(since: mark).isEmpty, "\(setup.harness.writes(since: mark))")
            #expect(fake.massMessages.count == 1)

            // `status --item` and `stats` tell the manual sends apart.
            let status = try await runner.run(["status", "--item", first])
            #expect(status.standardOutput.contains("40 fans, 0 bought: 2 by hand in Fanvue (7c1b1c1e on 2026-11-30, 7c1b1c1e on 2026-11-30); 38 elena-run send"), "\(status)")
            let stats = try JSONValue.parse(try await runner.run(["stats", "--json"]).standardOutput)
            let paths = stats["paths"]?.arrayValue ?? []
            #expect(paths.first { $0["key"]?.stringValue == "manual" }?["sends"]?.intValue == 1, "the priced one of the two: \(paths)")
            #expect(paths.first { $0["key"]?.stringValue == "send" }?["sends"]?.intValue == 38, "\(paths)")
            #expect(stats["campaigns"]?.arrayValue?.first?["reached"]?.intValue == 38)
        }
    }

    /// Scheduling, unsend, moderation and results: the ledger, `status` and `stats` tell the truth after the 201.
    @Test(arguments: TestBackend.available)
    func aMassMessageHasALifeAfterThe201(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let (fake, runner, first, second) = (setup.fake, setup.runner, setup.first, setup.second)
            func campaigns() async throws -> [JSONValue] {
                try JSONValue.parse(try await runner.run(["stats", "--json"]).standardOutput)["campaigns"]?.arrayValue ?? []
            }

            // Scheduled: Fanvue holds it, the ledger claims every fan so nothing else sends it meanwhile.
            let later = Timestamp.format(Date().addingTimeInterval(3600))
            let scheduled = try await runner.run(["send", first, "--to", "subscribers", "--price", "12", "--at", later])
            #expect(scheduled.exitCode == 0, "\(scheduled)")
            #expect(scheduled.standardOutput.contains("scheduled for \(later)"), "\(scheduled)")
            #expect(fake.massMessages.first?["status"]?.stringValue == "SCHEDULED")
            #expect(fake.messages.isEmpty, "nothing delivered before its time")
            var listed = try await campaigns()
            #expect(listed.first?["status"]?.stringValue == "SCHEDULED" && listed.first?["fans"]?.intValue == 40, "\(listed)")
            #expect(try await setup.sends(to: Self.fans[0]).count == 1)
            let campaign = try #require(listed.first?["id"]?.stringValue)

            // Changed before it goes out: Fanvue's copy (PATCH) and the ledger (campaign and claims) agree.
            let evening = Timestamp.format(Date().addingTimeInterval(7200))
            let moved = try await runner.run(["reschedule", String(campaign.prefix(8)), "--at", evening, "--price", "15"])
            #expect(moved.exitCode == 0, "\(moved)")
            #expect(moved.standardOutput.contains("now goes out at \(evening), costs $15.00"), "\(moved)")
            #expect(fake.massMessages.first?["scheduledAt"]?.stringValue == evening && fake.massMessages.first?["price"]?.intValue == 1500)
            #expect(try await setup.sends(to: Self.fans[0]).first?.priceCents == 1500)
            #expect(try await campaigns().first?["price_cents"]?.intValue == 1500)

            // Unsent before it went out: Fanvue drops it, the claims go, the same item can be sent again.
            let unsend = try await runner.run(["unsend", String(campaign.prefix(8))])
            #expect(unsend.exitCode == 0, "\(unsend)")
            #expect(unsend.standardOutput.contains("40 fans' claims given back, 0 who bought it keep it"), "\(unsend)")
            #expect(fake.massMessages.first?["status"]?.stringValue == "UNSENT")
            #expect(try await setup.sends(to: Self.fans[0]).isEmpty)
            listed = try await campaigns()
            #expect(listed.first?["status"]?.stringValue == "UNSENT")
            let twice = try await runner.run(["unsend", String(campaign.prefix(8))])
            #expect(twice.exitCode == 1 && twice.standardError.contains("nothing to unsend"), "\(twice)")

            // Sent, then held by Fanvue's moderation after the 201: sync says so and gives the claims back.
            let now = try await runner.run(["send", first, "--to", "subscribers", "--price", "12"])
            #expect(now.exitCode == 0, "\(now)")
            let moderatedID = try #require(fake.massMessages.last?["id"]?.stringValue)
            #expect(try await setup.sends(to: Self.fans[0]).first?.massMessageID == moderatedID)
            let late = try await runner.run(["reschedule", moderatedID, "--price", "20"])
            #expect(late.exitCode == 1 && late.standardError.contains("only a scheduled mass message can be changed"), "\(late)")
            fake.setMassMessageStatus(moderatedID, "MODERATED")
            let sync = try await runner.run(["sync"])
            #expect(sync.exitCode == 0, "\(sync)")
            #expect(sync.standardOutput.contains("was held by Fanvue's moderation: nobody got it; 40 claims given back"), "\(sync)")
            #expect(try await setup.sends(to: Self.fans[0]).isEmpty)
            let status = try await runner.run(["status", "--item", first, "--json"])
            #expect(try JSONValue.parse(status.standardOutput)["sends"]?.arrayValue?.isEmpty == true, "\(status)")
            #expect(try await campaigns().first?["status"]?.stringValue == "MODERATED")

            // Results: a fan buys the second item's copy; sync copies views, purchases and revenue; unsend keeps the buyer.
            let sent = try await runner.run(["send", second, "--to", "subscribers", "--price", "15"])
            #expect(sent.exitCode == 0, "\(sent)")
            let resultsID = try #require(fake.massMessages.last?["id"]?.stringValue)
            let copy = try #require(setup.messages(to: Self.fans[2]).last?["messageUuid"]?.stringValue)
            try fake.purchase(message: copy)
            fake.setMassMessageStatus(resultsID, "SENT", viewCount: 12)
            #expect(try await runner.run(["sync"]).exitCode == 0)
            let results = try #require(try await campaigns().first { $0["mass_message"]?.stringValue == resultsID })
            #expect(results["views"]?.intValue == 12 && results["purchases"]?.intValue == 1, "\(results)")
            #expect(results["revenue_cents"]?.intValue == 1500, "\(results)")
            let text = try await runner.run(["stats"])
            #expect(text.standardOutput.contains("moderated"), "\(text)")
            let back = try await runner.run(["unsend", resultsID])
            #expect(back.standardOutput.contains("39 fans' claims given back, 1 who bought it keep it"), "\(back)")
            #expect(try await setup.sends(to: Self.fans[2]).count == 1, "the buyer keeps their send")
            #expect(try await setup.sends(to: Self.fans[3]).isEmpty)
            #expect(setup.messages(to: Self.fans[2]).count == 1 && setup.messages(to: Self.fans[3]).isEmpty)
        }
    }

    /// A chargeback is netted per item and per fan, marks the fan, and a list send can leave such fans out.
    @Test(arguments: TestBackend.available)
    func aChargebackIsNettedAndMarksTheFan(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let (fake, runner, first, second) = (setup.fake, setup.runner, setup.first, setup.second)
            for fan in [Self.fans[1], Self.fans[2]] {
                let sent = try await runner.run(["send", first, "--to", fan, "--price", "10"])
                #expect(sent.exitCode == 0, "\(sent)")
            }
            let bought = try fake.purchase(message: try #require(setup.messages(to: Self.fans[1]).first?["messageUuid"]?.stringValue))
            try fake.purchase(message: try #require(setup.messages(to: Self.fans[2]).first?["messageUuid"]?.stringValue))
            try fake.reverse(bought, as: "chargeback")
            let sync = try await runner.run(["sync", "--json"])
            #expect(sync.exitCode == 0, "\(sync)")

            let stats = try JSONValue.parse(try await runner.run(["stats", "--json"]).standardOutput)
            #expect(stats["total"]?["net_cents"]?.intValue == 800, "two sales of $8.00 net, one charged back: \(stats["total"] ?? .null)")
            #expect(stats["total"]?["purchases"]?.intValue == 2, "a chargeback is not a purchase")
            let reversal = try #require(stats["reversals"]?.arrayValue?.first)
            #expect(reversal["fan"]?.stringValue == Self.fans[1] && reversal["chargebacks"]?.intValue == 1, "\(reversal)")
            #expect(reversal["gross_cents"]?.intValue == -1000 && reversal["fan_net_cents"]?.intValue == 0, "\(reversal)")
            let text = try await runner.run(["stats"])
            #expect(text.standardOutput.contains("refunds and chargebacks: 1, -$10.00 gross (netted above)"), "\(text)")
            let store = try await setup.drop.store()
            let item = try #require(try await store.items(drop: nil).first { ($0.croppedName ?? $0.originalName) == first })
            await store.close()
            #expect(item.timesPurchased == 2 && item.revenueCents == 800)

            let suggest = try await runner.run(["suggest", "--fan", Self.fans[1]])
            #expect(suggest.standardOutput.contains("note: this fan charged back a purchase on"), "\(suggest)")

            // A list send leaves such fans out when asked: in the dry run, on Fanvue, and in the ledger.
            let dry = try await runner.run(["send", second, "--to", "subscribers", "--price", "12", "--skip-chargebacks", "--dry-run", "--json"])
            let excluded = try JSONValue.parse(dry.standardOutput)["audience"]?["excluded"]?.arrayValue ?? []
            #expect(excluded.count == 1 && excluded.first?["fan"]?.stringValue == Self.fans[1], "\(dry)")
            #expect(excluded.first?["reason"]?.stringValue?.hasPrefix("left out: charged back a purchase on") == true)
            let sent = try await runner.run(["send", second, "--to", "subscribers", "--price", "12", "--skip-chargebacks"])
            #expect(sent.exitCode == 0, "\(sent)")
            #expect(fake.massMessages.last?["recipientCount"]?.intValue == Self.fans.count - 1)
            #expect(fake.customLists.values.contains([Self.fans[1]]), "\(fake.customLists)")
            let secondMedia = try #require(setup.media[second])
            #expect(!setup.messages(to: Self.fans[1]).contains { ($0["mediaUuids"]?.arrayValue ?? []).contains(.string(secondMedia)) })
            #expect(try await setup.sends(to: Self.fans[1]).count == 1, "only the first item")
        }
    }

    /// A post edited by hand in Fanvue into showing a pay-per-view item for free, or made by hand with one, is
    /// reported by reconcile and left as it is.
    @Test(arguments: TestBackend.available)
    func aPostEditedByHandIntoBreakingTheFeedGuardIsReported(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let (fake, runner, first) = (setup.fake, setup.runner, setup.first)
            // The drop posts both pictures as a locked post, then one of them is sold as pay-per-view.
            var drop = setup.drop
            drop.manifestText += "\n  post: {audience: subscribers, price: 8.00}\n"
            #expect(try await drop.run().failureCount == 0)
            let ours = try #require(fake.posts.first?["uuid"]?.stringValue)
            #expect(try await runner.run(["send", first, "--to", Self.fans[0], "--price", "10"]).exitCode == 0)

            let clean = try JSONValue.parse(try await runner.run(["reconcile", "--json"]).standardOutput)
            #expect(clean["posts_read"]?.intValue == 1 && clean["feed_guard"]?.arrayValue?.isEmpty == true, "\(clean)")

            // By hand in Fanvue: the locked post made free, and a new free post of the same picture.
            fake.editPostByHand(ours, .object(["price": .null]))
            let mine = fake.postByHand(mediaUUIDs: [try #require(setup.media[first])])
            let mark = fake.calls.count
            let reconcile = try await runner.run(["reconcile", "--json"])
            #expect(reconcile.exitCode == 0, "\(reconcile)")
            let findings = try JSONValue.parse(reconcile.standardOutput)["feed_guard"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(findings.count == 2, "\(findings)")
            #expect(
                findings.contains {
                    $0.hasPrefix("post \(ours.prefix(8)) (elena-run's post of drop fv, edited in Fanvue: made free) shows \(first) (pay-per-view to 1 fan) in the feed for free")
                }, "\(findings)")
            #expect(findings.contains { $0.hasPrefix("post \(mine.prefix(8)) (made by hand in Fanvue) shows \(first)") }, "\(findings)")
            #expect(setup.harness.writes(since: mark).filter { $0.path.hasPrefix("/posts") }.isEmpty, "the creator's posts are left alone")
            let text = try await runner.run(["reconcile"])
            #expect(text.standardOutput.contains("2 posts read; 2 break the feed guard"), "\(text)")
        }
    }

    /// A set of fans elena-run chose (send --to with several, a drop's message.to) gets one mass message through a
    /// custom list of exactly those who lack the item, when that is cheaper than one message each; `at:` schedules it.
    @Test(arguments: TestBackend.available)
    func aSetOfFansGetsOneMassMessageThroughAListOfExactlyThem(backend: TestBackend) async throws {
        let setup = try await Self.setUp(backend)
        try await withCleanup({ await setup.stop() }) {
            let (fake, runner, first) = (setup.fake, setup.runner, setup.first)
            let chosen = Array(Self.fans[10...15])
            fake.sendByHand(to: chosen[2], mediaUUIDs: [try #require(setup.media[first])])

            let sent = try await runner.run(["send", first, "--to", chosen.joined(separator: ","), "--price", "12"])
            #expect(sent.exitCode == 0, "\(sent)")
            #expect(sent.standardOutput.contains("skipped \(chosen[2]): had it: sent by hand on"), "the send read their chats first: \(sent)")
            #expect(fake.massMessages.count == 1 && fake.messages.filter { $0["massMessageId"] == nil }.count == 1, "one mass message, and only the hand send one to one")
            let included = try #require(fake.massMessages.first?["includedLists"]?["customListUuids"]?.arrayValue?.first?.stringValue)
            let audience = try #require(fake.customLists.first { $0.key.hasPrefix("elena-run: audience") })
            #expect(Set(audience.value) == Set(chosen).subtracting([chosen[2]]), "exactly the fans who lack it: \(audience)")
            #expect(!included.isEmpty && fake.massMessages.first?["recipientCount"]?.intValue == 5)
            for fan in chosen { #expect(setup.messages(to: fan).count == 1, "\(fan) has it once") }

            // A drop's message to four fans, scheduled: one mass message Fanvue holds until its time.
            var drop = setup.drop
            let later = Timestamp.format(Date().addingTimeInterval(7200))
            let four = Array(Self.fans[20...23])
            drop.manifestText += "\n  message: {to: [\(four.joined(separator: ", "))], price: 9.00, at: \"\(later)\"}\n"
            let report = try await drop.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            let scheduled = try #require(fake.massMessages.last)
            #expect(scheduled["status"]?.stringValue == "SCHEDULED" && scheduled["scheduledAt"]?.stringValue == later, "\(scheduled)")
            #expect(four.allSatisfy { setup.messages(to: $0).isEmpty }, "nothing delivered before its time")
            let store = try await drop.store()
            let campaigns = try await store.campaigns(account: nil)
            let claims = try await store.allSends().filter { four.contains($0.fan) }
            await store.close()
            #expect(campaigns.first?.status == "SCHEDULED" && campaigns.first?.intended == 4)
            #expect(claims.count == 8 && claims.allSatisfy { $0.via == "manifest" && $0.campaignID == campaigns.first?.id }, "two items to four fans")
        }
    }
}
