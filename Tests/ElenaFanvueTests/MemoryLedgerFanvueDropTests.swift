import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStages
import ElenaTestKit
import Foundation
import Testing

/// Whole Fanvue drops on the in-memory ledger against the fake Fanvue over real HTTP: no database, the same outcome
/// as on SQLite (`FanvueDropTests`). Tests of the Fanvue stages can use it when the ledger is not their subject.
@Suite struct MemoryLedgerFanvueDropTests {
    static let fans = ["7c1b1c1e-3333-4aaa-8bbb-000000000001", "7c1b1c1e-3333-4aaa-8bbb-000000000002"]

    /// Upload, vault, post and message on a `MemoryLedger`: what Fanvue received is what the ledger records, and a
    /// rerun writes nothing to Fanvue.
    @Test func aFanvueDropUploadsPostsAndMessagesOnTheInMemoryLedger() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try FanvueDrop.make(
                harness, images: 3,
                extra: """
                      post: {audience: subscribers, price: 15.00, allow_ppv_items: true}
                      message: {to: [\(Self.fans.joined(separator: ", "))]}
                    """)
            let ledger = MemoryLedger()
            drop.memory = ledger
            let first = try await drop.run()
            #expect(first.exitCode == 3, "waits for review")
            #expect(harness.fake.media.isEmpty, "nothing leaves the machine before a human approves")

            try drop.approveAll()
            let second = try await drop.run()
            #expect(second.failureCount == 0, "\(second.failures)")
            #expect(second.count(.upload, "ran") == 3)
            #expect(!FileManager.default.fileExists(atPath: drop.layout.defaultDatabase), "no database was made")

            // What Fanvue received.
            let ready = Set(harness.fake.media.filter { $0.status == .ready }.map(\.uuid))
            #expect(ready.count == 3 && harness.fake.media.count == 3)
            #expect(Set(harness.fake.folders["elena-ppv"] ?? []) == ready)
            let post = try #require(harness.fake.posts.first)
            #expect(harness.fake.posts.count == 1)
            #expect(post["price"]?.intValue == 1500)
            #expect(Set(post["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ready)
            #expect(harness.fake.messages.count == 2)
            #expect(
                harness.fake.messages.allSatisfy {
                    $0["price"]?.intValue == 1200 && Set($0["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ready
                })

            // What the ledger records of it.
            let account = try await harness.client.account
            let items = try await ledger.items(drop: "fv")
            #expect(items.count == 3 && items.allSatisfy { $0.status == .published }, "\(items.map(\.status))")
            let mediaByItem = Dictionary(uniqueKeysWithValues: items.compactMap { item in item.fanvueMediaUUID.map { (item.id, $0) } })
            #expect(Set(mediaByItem.values) == ready)
            #expect(try await ledger.mediaItems() == Dictionary(uniqueKeysWithValues: mediaByItem.map { ($1, $0) }))
            #expect(try await ledger.vaultMedia(account: account, folder: "elena-ppv") == ready)
            let posts = try await ledger.allPosts()
            #expect(posts.map(\.uuid) == [post["uuid"]?.stringValue])
            #expect(posts.first?.items == items.map(\.id).sorted { $0.hex < $1.hex })
            #expect(posts.first?.priceCents == 1500 && posts.first?.drop == "fv" && posts.first?.account == account)
            let sends = try await ledger.allSends()
            #expect(sends.count == 6)
            for fan in Self.fans {
                let message = harness.fake.messages.first { $0["fanUuid"]?.stringValue == fan }?["messageUuid"]?.stringValue
                let toFan = sends.filter { $0.fan == fan }
                #expect(Set(toFan.map(\.itemID)) == Set(items.map(\.id)))
                #expect(toFan.allSatisfy { $0.messageUUID == message && message != nil && $0.priceCents == 1200 })
                #expect(toFan.allSatisfy { $0.via == "manifest" && $0.drop == "fv" && $0.purchasedAt == nil })
            }
            #expect(try await ledger.ppvSends(items: items.map(\.id)) == Dictionary(uniqueKeysWithValues: items.map { ($0.id, 2) }))
            // The message stage read the fans' chats first (reconcile): their cursors are in the ledger.
            #expect(Set(try await ledger.chatCursors(account: account, fans: Self.fans).keys) == Set(Self.fans))
            let kinds = try await ledger.events(drop: "fv", limit: 100).map(\.kind)
            #expect(kinds.filter { $0 == "fanvue.upload" }.count == 3)
            #expect(kinds.contains("fanvue.post") && kinds.filter { $0 == "fanvue.message" }.count == 2)

            // A rerun writes nothing: every upload, attach, post and message is already done.
            let mark = harness.fake.calls.count
            let third = try await drop.run()
            #expect(third.failureCount == 0, "\(third.failures)")
            #expect(harness.writes(since: mark).isEmpty, "\(harness.writes(since: mark).map { "\($0.method) \($0.path)" })")
            #expect(harness.fake.media.count == 3, "no new upload")
            #expect(try await ledger.allSends().count == 6)
        }
    }

    /// The guard on the in-memory ledger: an item is never sent twice to a fan, by a second drop of the same pictures
    /// or by `send` (the `Sender`: with the ledger's sends broken, this is the part that fails), and a fan who lacks
    /// them gets them once.
    @Test func anItemIsNeverSentTwiceToAFanOnTheInMemoryLedger() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try FanvueDrop.make(harness, images: 2, extra: "  message: {to: [\(Self.fans[0])]}\n")
            let ledger = MemoryLedger()
            drop.memory = ledger
            _ = try await drop.run()
            try drop.approveAll()
            let sent = try await drop.run()
            #expect(sent.failureCount == 0, "\(sent.failures)")
            #expect(harness.fake.messages.count == 1)

            // Another drop with the same pictures and the same fan sends nothing new (they are published with drop fv,
            // the first that took them).
            var other = drop
            other.manifestText = drop.manifestText.replacingOccurrences(of: "drop: fv", with: "drop: fv2")
                .replacingOccurrences(of: "message: {to:", with: "message: {text: \"again\", to:")
            _ = try await other.run()
            let review = drop.layout.absolute("3_review/fv2")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: review)) ?? [] {
                try FileSystem.move(review + "/" + name, to: drop.layout.absolute("4_approved/" + name))
            }
            let again = try await other.run()
            #expect(again.failureCount == 0, "\(again.failures)")
            #expect(harness.fake.messages.count == 1, "the fan already has both items")
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 2, "the same bytes are not uploaded twice")

            // `send` of the same items: skipped for the fan who has them, sent once to the one who lacks them.
            let items = try await ledger.items(drop: "fv").map { item in
                SendableItem(id: item.id, name: item.originalName, media: item.fanvueMediaUUID ?? "")
            }
            let sender = Sender(store: ledger, locks: ProcessLocks(), now: { Date() })
            let context = SendContext(account: nil, drop: nil, via: "send")
            let mark = harness.fake.calls.count
            let had = try await sender.send(items, to: Self.fans[0], text: "hi", priceCents: 900, context: context, api: harness.client)
            #expect(had.sent.isEmpty && had.skipped == items)
            #expect(had.reason?.hasPrefix("had it: sent by drop fv on ") == true, "\(had.reason ?? "no reason")")
            #expect(harness.writes(since: mark).isEmpty, "no call for a fan who has everything")
            let fresh = try await sender.send(items, to: Self.fans[1], text: "hi", priceCents: 900, context: context, api: harness.client)
            #expect(fresh.sent == items && fresh.messageUUID != nil)
            let twice = try await sender.send(items, to: Self.fans[1], text: "hi", priceCents: 900, context: context, api: harness.client)
            #expect(twice.sent.isEmpty && twice.skipped == items)
            #expect(harness.fake.messages.count == 2)
            #expect(try await ledger.sends(fan: Self.fans[1]).values.allSatisfy { $0 == fresh.messageUUID })
        }
    }
}
