import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStages
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// Whole drops published to the fake Fanvue: uploads once into the vault, posts and messages as the manifest
/// says, nothing written again on a rerun, the same end state under injected faults, and the ledger's guards.
@Suite struct FanvueDropTests {
    static let fans = ["7c1b1c1e-1111-4aaa-8bbb-000000000001", "7c1b1c1e-1111-4aaa-8bbb-000000000002"]

    @Test func approvedItemsAreUploadedOnceIntoTheVaultThenPostedAndSent() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(
                harness, images: 4,
                extra: """
                      post: {audience: subscribers, price: 15.00, allow_ppv_items: true}
                      message: {to: [\(Self.fans.joined(separator: ", "))]}
                    """)
            let first = try await drop.run()
            #expect(first.exitCode == 3, "waits for review")
            #expect(harness.fake.media.isEmpty, "nothing leaves the machine before a human approves")
            #expect(first.count(.post, "blocked") == 1)

            try drop.approveAll()
            let second = try await drop.run()
            #expect(second.failureCount == 0, "\(second.failures)")
            #expect(second.count(.upload, "ran") == 4)
            let ready = harness.fake.media.filter { $0.status == .ready }
            #expect(ready.count == 4)
            #expect(Set(ready.compactMap(\.sha256)).count == 4, "four different crops")
            #expect(harness.fake.folders["elena-ppv"]?.count == 4)
            #expect(harness.fake.posts.count == 1)
            let post = try #require(harness.fake.posts.first)
            #expect(post["price"]?.intValue == 1500)
            #expect(post["text"]?.stringValue == "New set #AIgenerated", "the AI disclosure is added")
            #expect(post["mediaUuids"]?.arrayValue?.count == 4)
            #expect(harness.fake.messages.count == 2)
            #expect(harness.fake.messages.allSatisfy { $0["price"]?.intValue == 1200 && $0["mediaUuids"]?.arrayValue?.count == 4 })

            // What the crops' bytes are is what Fanvue received.
            for media in ready {
                let bytes = try #require(harness.fake.uploadedBytes(media.uuid))
                #expect(MetadataInspector.metadata(in: Data(bytes)).isEmpty, "no EXIF, GPS or prompt leaves the machine")
            }

            let store = try await drop.store()
            let items = try await store.items(drop: "fv")
            #expect(items.allSatisfy { $0.status == .published && $0.fanvueMediaUUID != nil })
            #expect(try await store.sends(fan: Self.fans[0]).count == 4)
            await store.close()

            // A rerun writes nothing: every upload, attach, post and message is already done.
            let mark = harness.fake.calls.count
            let third = try await drop.run()
            #expect(third.failureCount == 0)
            #expect(harness.writes(since: mark).isEmpty, "\(harness.writes(since: mark).map { "\($0.method) \($0.path)" })")
        }
    }

    /// Attach reads each upload's media as a typed value. An upload record that no longer reads (another version
    /// wrote it) is a cache miss: the upload runs again, as a look-up in the ledger's upload record, and its media
    /// is attached. Read as JSON with a default, as before, those items were silently left out of the new folder.
    @Test func anUnreadableUploadRecordIsLookedUpAgainNotLeftOutOfTheVault() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try FanvueDrop.make(harness, images: 2)
            _ = try await drop.run()
            try drop.approveAll()
            let published = try await drop.run()
            #expect(published.failureCount == 0, "\(published.failures)")
            #expect(harness.fake.folders["elena-ppv"]?.count == 2)

            let edit = try await Subprocess.run(
                "/usr/bin/sqlite3", [drop.layout.defaultDatabase, #"UPDATE stage_runs SET output = '{"old":1}' WHERE stage = 'upload';"#])
            try #require(edit.status == 0, "sqlite3: \(edit.error)")
            // The drop moves to another vault folder: attach has work again, with the two uploads as its inputs.
            drop.manifestText = drop.manifestText.replacingOccurrences(of: "vault: elena-ppv", with: "vault: elena-vip")
            let uploadsBefore = harness.fake.calls.filter { $0.method == "POST" && $0.path == "/media/uploads" }.count
            let moved = try await drop.run()

            #expect(moved.failureCount == 0, "\(moved.failures)")
            #expect(moved.count(.upload, "ran") == 2, "the unreadable records were made again")
            #expect(moved.count(.attach, "ran") == 1)
            let uploadsAfter = harness.fake.calls.filter { $0.method == "POST" && $0.path == "/media/uploads" }.count
            #expect(uploadsAfter == uploadsBefore, "looked up in the ledger, not uploaded again")
            #expect(harness.fake.folders["elena-vip"]?.count == 2, "both items are in the new folder")
            #expect(harness.fake.media.count == 2)
        }
    }

    @Test func theSameEndStateDespite429Storms500sAndDroppedConnections() async throws {
        let harness = try await FanvueHarness.start { $0.readyAfterPolls = 2 }
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 6)
            _ = try await drop.run()
            try drop.approveAll()
            harness.fake.rateLimitStorm(6)
            harness.fake.failNext(4, status: 500, pathPrefix: "/media")
            harness.fake.failNext(2, status: 502, pathPrefix: "/vault")
            harness.fake.dropNextConnections(3, pathPrefix: "/media/uploads")
            harness.fake.dropNextConnections(2, pathPrefix: "/storage")
            let report = try await drop.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            let ready = harness.fake.media.filter { $0.status == .ready }
            #expect(ready.count == 6)
            #expect(Set(ready.compactMap(\.sha256)).count == 6, "no duplicate ready copy")
            #expect(Set(harness.fake.folders["elena-ppv"] ?? []) == Set(ready.map(\.uuid)))
            let store = try await drop.store()
            #expect(try await store.items(drop: "fv").allSatisfy { $0.status == .published })
            await store.close()
        }
    }

    @Test func aFourHundredIsReportedPerItemAndTheRestGoesOn() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 3)
            _ = try await drop.run()
            try drop.approveAll()
            harness.fake.failNext(1, status: 400, pathPrefix: "/media/uploads", method: "POST")
            let report = try await drop.run()
            #expect(report.failures.count == 1)
            #expect(report.failures.first?.message.contains("Fanvue answered 400 to POST /media/uploads") == true)
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 2)
            let again = try await drop.run()
            #expect(again.failureCount == 0)
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 3, "the next run retries only the failed one")
        }
    }

    /// An upload Fanvue refused leaves the drop's post to the items that made it; the next run, once the last item
    /// is up, posts only that one: no picture is in the feed twice.
    @Test func aPostAfterAFailedUploadNeverRepeatsAnItem() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 3, extra: "  post: {audience: subscribers}\n")
            _ = try await drop.run()
            try drop.approveAll()
            harness.fake.failNext(1, status: 400, pathPrefix: "/media/uploads", method: "POST")
            let partial = try await drop.run()
            #expect(partial.failures.count == 1, "\(partial.failures)")
            let again = try await drop.run()
            #expect(again.failureCount == 0, "\(again.failures)")
            let ready = harness.fake.media.filter { $0.status == .ready }.map(\.uuid)
            #expect(ready.count == 3)
            let posted = harness.fake.posts.flatMap { $0["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
            #expect(posted.count == Set(posted).count, "no media in two posts: \(harness.fake.posts)")
            #expect(Set(posted) == Set(ready), "every item is in the feed")
            let third = try await drop.run()
            #expect(third.failureCount == 0 && harness.fake.posts.count == Set(harness.fake.posts.map { $0["uuid"] }).count)
            #expect(harness.fake.posts.flatMap { $0["mediaUuids"]?.arrayValue ?? [] }.count == 3, "a rerun posts nothing")
        }
    }

    @Test func aFeedPostOfMediaSoldAsPPVIsRefusedWithoutAnAPICall() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(
                harness, images: 2, extra: "  message: {to: [\(Self.fans[0])]}\n")
            _ = try await drop.run()
            try drop.approveAll()
            let sent = try await drop.run()
            #expect(sent.failureCount == 0)
            #expect(harness.fake.messages.count == 1)

            // The drop now asks for a feed post of them (a later drop of the same pictures leaves them out: they are
            // reviewed and published with drop fv).
            var withPost = drop
            withPost.manifestText = drop.manifestText.replacingOccurrences(
                of: "  message: {to: [\(Self.fans[0])]}\n", with: "  post: {audience: subscribers}\n")
            var later = withPost
            later.manifestText = withPost.manifestText.replacingOccurrences(of: "drop: fv", with: "drop: fv-feed")
            let elsewhere = try await later.run()
            #expect(elsewhere.plan.items.isEmpty)
            #expect(elsewhere.inOtherDrops.map(\.drop) == ["fv", "fv"])
            let mark = harness.fake.calls.count
            let refused = try await withPost.run()
            let failure = try #require(refused.failures.first { $0.node.stage == .post })
            #expect(failure.message.contains("refusing to post 2 items already sent or sold as pay-per-view"))
            #expect(harness.fake.posts.isEmpty)
            #expect(!harness.fake.calls.dropFirst(mark).contains { $0.path == "/posts" }, "refused before any API call")
        }
    }

    @Test func anItemIsNeverSentTwiceToTheSameFan() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 2, extra: "  message: {to: [\(Self.fans[0])]}\n")
            _ = try await drop.run()
            try drop.approveAll()
            _ = try await drop.run()
            #expect(harness.fake.messages.count == 1)
            // Another drop with the same pictures and the same fan sends nothing new.
            var other = drop
            other.manifestText = drop.manifestText.replacingOccurrences(of: "drop: fv", with: "drop: fv2")
                .replacingOccurrences(of: "message: {to:", with: "message: {text: \"again\", to:")
            _ = try await other.run()
            let review = drop.layout.absolute("3_review/fv2")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: review)) ?? [] {
                try FileSystem.move(review + "/" + name, to: drop.layout.absolute("4_approved/" + name))
            }
            let report = try await other.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            #expect(harness.fake.messages.count == 1, "the fan already has both items")
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 2, "the same bytes are not uploaded twice")
        }
    }

    @Test func pollsAdaptToHowLongProcessingTakes() async throws {
        // Fanvue takes 0.25 s to process; the stage starts polling after 0.02 s and grows its waits by 1.6.
        let harness = try await FanvueHarness.start {
            $0.readyAfterPolls = 0
            $0.readyAfterSeconds = 0.25
        }
        try await withCleanup({ await harness.stop() }) {
            let images = 10
            let drop = try FanvueDrop.make(harness, images: images)
            _ = try await drop.run()
            try drop.approveAll()
            let report = try await drop.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            #expect(harness.fake.media.filter { $0.status == .ready }.count == images)
            let polls = harness.fake.calls.filter { $0.method == "GET" && $0.path.hasPrefix("/media/") && !$0.path.hasPrefix("/media/uploads") }
            // Without learning, every upload would poll 5 times (0.02, 0.05, 0.10, 0.18, 0.31 s): 50 polls.
            #expect(polls.count <= 2 * images + 6, "\(polls.count) polls for \(images) uploads")
        }
    }
}
