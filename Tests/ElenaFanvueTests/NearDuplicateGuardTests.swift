import ElenaCore
import ElenaEngine
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStages
import ElenaTestKit
import ElenaTestSupport
import ElenaVision
import Foundation
import Testing

/// The guards see pictures, not bytes: a fan who has a picture is not sent a re-saved copy of it (another item, the
/// same picture), and the feed never shows a copy of a picture sold as pay-per-view — before any network call,
/// unless the drop allows it. Real photographs (ELENA_TEST_FACES) against the fake Fanvue.
@Suite struct NearDuplicateGuardTests {
    static let fan = "7c1b1c1e-3333-4aaa-8bbb-000000000001"

    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func aFanIsNotSentACopyOfAPictureTheyHaveUnlessTheDropAllowsIt() async throws {
        let photo = try TestPhotos.photograph("astronaut.png")
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try FanvueDrop.make(harness, images: 0, extra: "  message: {to: [\(Self.fan)]}\n")
            drop.memory = MemoryLedger()
            _ = try harness.folder.write(photo, to: "src/astronaut.png")
            _ = try await drop.run()
            try drop.approveAll()
            let first = try await drop.run()
            #expect(first.failureCount == 0, "\(first.failures)")
            #expect(harness.fake.messages.count == 1, "the fan gets the picture")

            // A re-saved copy (other bytes: another item) comes in, is approved and uploaded: not sent to the fan.
            _ = try harness.folder.write(try PictureCopies.copy(of: photo, scale: 0.9, quality: 75), to: "src/astronaut-resaved.jpg")
            _ = try await drop.run()
            try drop.approveAll()
            let mark = harness.fake.calls.count
            let second = try await drop.run()
            #expect(second.failureCount == 0, "\(second.failures)")
            #expect(second.count(.upload, "ran") == 1, "the copy is uploaded to the vault like any item")
            #expect(harness.fake.messages.count == 1, "the fan is not sent the same picture again")
            #expect(
                !harness.writes(since: mark).contains { $0.path.contains("/chats/") && $0.method == "POST" },
                "no message call: \(harness.writes(since: mark).map { "\($0.method) \($0.path)" })")

            // Why, as the dry run and `send` say it.
            let ledger = try #require(drop.memory)
            let items = try await ledger.items(drop: "fv").sorted { $0.originalName < $1.originalName }
            let copy = try #require(items.first { $0.originalName == "astronaut-resaved.jpg" })
            let sendable = SendableItem(id: copy.id, name: copy.originalName, media: copy.fanvueMediaUUID ?? "")
            let sender = Sender(store: ledger, locks: ProcessLocks(), now: { Date() })
            let plan = try #require(try await sender.plan(items: [sendable], fans: [Self.fan]).first)
            #expect(plan.send.isEmpty && plan.skip == [sendable])
            let day = String(Timestamp.format(Date()).prefix(10))
            #expect(plan.reason == "has a near-duplicate (astronaut.png, sent \(day))", "\(plan.reason ?? "no reason")")
            let allowed = Sender(store: ledger, locks: ProcessLocks(), now: { Date() }, allowSimilar: true)
            #expect(try await allowed.plan(items: [sendable], fans: [Self.fan]).first?.send == [sendable])

            // The drop allows it: the copy goes out (once).
            drop.manifestText += "  allow_similar: true\n"
            let third = try await drop.run()
            #expect(third.failureCount == 0, "\(third.failures)")
            #expect(harness.fake.messages.count == 2, "sent with publish.allow_similar")
            _ = try await drop.run()
            #expect(harness.fake.messages.count == 2, "and never twice")
        }
    }

    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func theFeedNeverShowsACopyOfAPictureSoldAsPayPerView() async throws {
        let photo = try TestPhotos.photograph("camera.png")
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var sold = try FanvueDrop.make(harness, images: 0, extra: "  message: {to: [\(Self.fan)]}\n")
            sold.memory = MemoryLedger()
            _ = try harness.folder.write(photo, to: "src/camera.png")
            _ = try await sold.run()
            try sold.approveAll()
            #expect(try await sold.run().failureCount == 0)
            #expect(harness.fake.messages.count == 1, "sold as pay-per-view")

            // Another drop posts a brighter copy of it to the feed: refused before any post call.
            var feed = sold
            feed.manifestText = sold.manifestText.replacingOccurrences(of: "drop: fv", with: "drop: feed")
                .replacingOccurrences(of: "dir: src", with: "dir: feed")
                .replacingOccurrences(of: "message: {to: [\(Self.fan)]}", with: "post: {audience: subscribers}")
            _ = try harness.folder.write(try PictureCopies.copy(of: photo, quality: 85, brightness: 15), to: "feed/camera-bright.jpg")
            _ = try await feed.run()
            let review = feed.layout.absolute("3_review/feed")
            for name in try FileManager.default.contentsOfDirectory(atPath: review) {
                try FileSystem.move(review + "/" + name, to: feed.layout.absolute("4_approved/" + name))
            }
            let refused = try await feed.run()
            #expect(harness.fake.posts.isEmpty, "no post")
            let message = refused.failures.first { $0.node.stage == .post }?.message ?? ""
            #expect(
                message.contains("refusing to post 1 item to the feed that is a near-duplicate of pictures sold as pay-per-view")
                    && message.contains("camera-bright.jpg looks like camera.png"), "\(refused.failures)")
        }
    }

    /// A published photograph, and a smaller JPEG of its crop the creator uploaded and sent to the fan by hand in
    /// Fanvue (bytes elena-run never uploaded); `body` reconciles with or without a codec.
    static func withACopySentByHand(
        _ body: (MemoryLedger, FanvueHarness, ItemRecord) async throws -> Void
    ) async throws {
        let photo = try TestPhotos.photograph("coffee.png")
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try FanvueDrop.make(harness, images: 0)
            let ledger = MemoryLedger()
            drop.memory = ledger
            _ = try harness.folder.write(photo, to: "src/coffee.png")
            _ = try await drop.run()
            try drop.approveAll()
            #expect(try await drop.run().failureCount == 0)
            let item = try #require(try await ledger.items(drop: "fv").first)
            let media = try #require(item.fanvueMediaUUID)
            let uploaded = try #require(harness.fake.uploadedBytes(media))
            let copy = harness.fake.uploadByHand(Array(try PictureCopies.copy(of: Data(uploaded), scale: 0.7, quality: 70)), filename: "coffee.jpg")
            harness.fake.sendByHand(to: Self.fan, mediaUUIDs: [copy], priceCents: 900)
            try await body(ledger, harness, item)
        }
    }

    /// `reconcile` ties the copy to the item it shows, by its picture, so the guard counts it.
    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func aCopySentByHandIsTiedToItsItemByItsPicture() async throws {
        try await Self.withACopySentByHand { ledger, harness, item in
            let summary = try await Reconciler(store: ledger, api: harness.client, now: { Date() }, codec: OpenCVCodec())
                .run(fans: [Self.fan])
            #expect(summary.externalTied == 1 && summary.externalUntied == 0, "\(summary)")
            let sends = try await ledger.sends(items: [item.id])
            #expect(sends.map(\.fan) == [Self.fan] && sends.first?.via == "manual", "\(sends)")
            let sender = Sender(store: ledger, locks: ProcessLocks(), now: { Date() })
            let sendable = SendableItem(id: item.id, name: item.originalName, media: item.fanvueMediaUUID ?? "")
            let plan = try #require(try await sender.plan(items: [sendable], fans: [Self.fan]).first)
            #expect(plan.send.isEmpty && plan.reason?.hasPrefix("had it: sent by hand on ") == true, "\(plan.reason ?? "no reason")")
        }
    }

    /// The control: by its bytes alone (no codec), the copy matches no item and stays unknown.
    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func withoutItsPictureACopyIsUnknown() async throws {
        try await Self.withACopySentByHand { ledger, harness, item in
            let summary = try await Reconciler(store: ledger, api: harness.client, now: { Date() }).run(fans: [Self.fan])
            #expect(summary.externalTied == 0 && summary.externalUntied == 1, "\(summary)")
            #expect(try await ledger.sends(items: [item.id]).isEmpty)
        }
    }
}
