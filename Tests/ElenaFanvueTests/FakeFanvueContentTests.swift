import AsyncHTTPClient
import ElenaCore
import ElenaFanvueFake
import ElenaFanvueHarness
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Vault folders, posts, messages, mass messages, earnings and subscribers.
@Suite struct FakeFanvueContentTests {
    static var small: FakeFanvue.Configuration {
        var configuration = FakeFanvue.Configuration()
        configuration.minimumPartSize = 1
        configuration.readyAfterPolls = 0
        return configuration
    }

    static func ids(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }

    @Test func vaultFoldersByName() async throws {
        try await FakeFanvueHarness.with(Self.small) { h in
            let created = try await h.api(.POST, "/vault/folders", json: .object(["name": .string("elena ppv")]))
            #expect(created.status == 201)
            #expect(created.json?["name"]?.stringValue == "elena ppv")
            #expect(created.json?["mediaCount"]?.intValue == 0)
            let clash = try await h.api(.POST, "/vault/folders", json: .object(["name": .string("elena ppv")]))
            #expect(clash.status == 409)
            #expect(clash.json?["message"]?.stringValue != nil)
            #expect(try await h.api(.POST, "/vault/folders", json: .object(["name": .string("")])).status == 400)

            #expect(try await h.api(.GET, "/vault/folders/elena%20ppv").status == 200)
            let missing = try await h.api(.GET, "/vault/folders/nope")
            #expect(missing.status == 404)
            #expect(missing.json?["message"]?.stringValue != nil)

            let a = try await h.upload([1], partSize: 1, name: "a")
            let b = try await h.upload([2], partSize: 1, name: "b")
            let c = try await h.upload([3], partSize: 1, name: "c")
            let first = try await h.api(
                .POST, "/vault/folders/elena%20ppv/media", json: .object(["mediaUuids": Self.ids([a, b])]))
            #expect(first.status == 201)
            #expect(first.json == .object(["addedCount": .int(2)]))
            let second = try await h.api(
                .POST, "/vault/folders/elena%20ppv/media", json: .object(["mediaUuids": Self.ids([b, c, c, a])]))
            #expect(second.status == 201)
            #expect(second.json == .object(["addedCount": .int(1)]))
            #expect(h.fake.folders == ["elena ppv": [a, b, c]])

            let page = try await h.api(.GET, "/vault/folders/elena%20ppv/media?page=1&size=2")
            #expect(page.json?["data"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } == [a, b])
            #expect(page.json?["pagination"] == .object(["page": .int(1), "size": .int(2), "hasMore": .bool(true)]))
            let next = try await h.api(.GET, "/vault/folders/elena%20ppv/media?page=2&size=2")
            #expect(next.json?["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["c"])
            #expect(next.json?["pagination"]?["hasMore"] == .bool(false))
            #expect(try await h.api(.GET, "/vault/folders/elena%20ppv/media?size=51").status == 400)

            let folders = try await h.api(.GET, "/vault/folders?page=1&size=10")
            #expect(folders.json?["data"]?.arrayValue?.first?["mediaCount"]?.intValue == 3)
            #expect(folders.json?["pagination"]?["hasMore"] == .bool(false))
        }
    }

    @Test func attachRefusesBadBatches() async throws {
        var configuration = Self.small
        configuration.readyAfterPolls = 5
        try await FakeFanvueHarness.with(configuration) { h in
            #expect(try await h.api(.POST, "/vault/folders", json: .object(["name": .string("v")])).status == 201)
            let processing = try await h.upload([1], partSize: 1, waitUntilReady: false)
            let unknown = UUID().uuidString.lowercased()
            let cases: [(String, JSONValue)] = [
                ("empty", .object(["mediaUuids": .array([])])),
                ("too many", .object(["mediaUuids": Self.ids((0...100).map { _ in unknown })])),
                ("not a uuid", .object(["mediaUuids": Self.ids(["x"])])),
                ("unknown", .object(["mediaUuids": Self.ids([unknown])])),
                ("not ready", .object(["mediaUuids": Self.ids([processing])])),
            ]
            for (label, body) in cases {
                let reply = try await h.api(.POST, "/vault/folders/v/media", json: body)
                #expect(reply.status == 400, "\(label): \(reply.text)")
            }
            #expect(h.fake.folders == ["v": []])
            let noFolder = try await h.api(
                .POST, "/vault/folders/w/media", json: .object(["mediaUuids": Self.ids([processing])]))
            #expect(noFolder.status == 404)
        }
    }

    @Test func postsValidatePriceMediaAndTimes() async throws {
        try await FakeFanvueHarness.with(Self.small) { h in
            let media = try await h.upload([1, 2], partSize: 2)
            let future = Timestamp.format(Date().addingTimeInterval(3600))
            let past = Timestamp.format(Date().addingTimeInterval(-3600))
            let refused: [(String, JSONValue)] = [
                (
                    "price below 300",
                    .object([
                        "audience": .string("subscribers"), "mediaUuids": Self.ids([media]), "price": .int(299),
                    ])
                ),
                (
                    "price without media",
                    .object(["audience": .string("subscribers"), "text": .string("hi"), "price": .int(500)])
                ),
                (
                    "price in dollars",
                    .object([
                        "audience": .string("subscribers"), "mediaUuids": Self.ids([media]), "price": .double(9.99),
                    ])
                ),
                ("bad audience", .object(["audience": .string("everyone"), "text": .string("hi")])),
                ("no audience", .object(["text": .string("hi")])),
                (
                    "long text",
                    .object(["audience": .string("subscribers"), "text": .string(String(repeating: "a", count: 5001))])
                ),
                ("empty", .object(["audience": .string("subscribers")])),
                (
                    "past publishAt",
                    .object(["audience": .string("subscribers"), "text": .string("hi"), "publishAt": .string(past)])
                ),
                (
                    "bad publishAt",
                    .object([
                        "audience": .string("subscribers"), "text": .string("hi"), "publishAt": .string("tomorrow"),
                    ])
                ),
            ]
            for (label, body) in refused {
                let reply = try await h.api(.POST, "/posts", json: body)
                #expect(reply.status == 400, "\(label): \(reply.text)")
                #expect(reply.json?["errors"]?.arrayValue?.isEmpty == false, "\(label)")
            }
            let unknownMedia = try await h.api(
                .POST, "/posts",
                json: .object([
                    "audience": .string("subscribers"), "mediaUuids": Self.ids([UUID().uuidString.lowercased()]),
                ]))
            #expect(unknownMedia.status == 400)
            #expect(unknownMedia.json?["message"]?.stringValue != nil)
            #expect(h.fake.posts.isEmpty)

            let body = JSONValue.object([
                "audience": .string("followers-and-subscribers"), "text": .string("New set #AIgenerated"),
                "mediaUuids": Self.ids([media]), "price": .int(1200), "publishAt": .string(future),
            ])
            let created = try await h.api(.POST, "/posts", json: body)
            #expect(created.status == 201, "\(created.text)")
            let uuid = try #require(created.json?["uuid"]?.stringValue)
            #expect(created.json?["createdAt"]?.stringValue != nil)
            #expect(created.json?["price"] == .int(1200))
            #expect(created.json?["publishedAt"] == .null)
            let recorded = try #require(h.fake.posts.first)
            #expect(recorded["uuid"]?.stringValue == uuid)
            #expect(recorded["text"] == body["text"])
            #expect(recorded["mediaUuids"] == body["mediaUuids"])

            let listed = try await h.api(.GET, "/posts?page=1&size=10")
            #expect(listed.json?["data"]?.arrayValue?.first?["uuid"]?.stringValue == uuid)
            #expect(listed.json?["pagination"]?["hasMore"] == .bool(false))
        }
    }

    @Test func messagesValidatePriceAndMedia() async throws {
        try await FakeFanvueHarness.with(Self.small) { h in
            let media = try await h.upload([1, 2], partSize: 2)
            let fan = "0b6c7f7e-1111-4222-8333-944455556666"
            let refused: [(String, JSONValue)] = [
                (
                    "price below 300",
                    .object(["text": .string("hi"), "mediaUuids": Self.ids([media]), "price": .int(100)])
                ),
                ("price without media", .object(["text": .string("hi"), "price": .int(900)])),
                ("empty text", .object(["text": .string("")])),
                ("nothing", .object([:])),
            ]
            for (label, body) in refused {
                let reply = try await h.api(.POST, "/chats/\(fan)/message", json: body)
                #expect(reply.status == 400, "\(label): \(reply.text)")
            }
            #expect(
                try await h.api(.POST, "/chats/not-a-uuid/message", json: .object(["text": .string("hi")])).status
                    == 400)

            let sent = try await h.api(
                .POST, "/chats/\(fan)/message",
                json: .object(["text": .string("for you"), "mediaUuids": Self.ids([media]), "price": .int(900)]))
            #expect(sent.status == 201, "\(sent.text)")
            let messageUUID = try #require(sent.json?["messageUuid"]?.stringValue)
            let free = try await h.api(
                .POST, "/chats/\(fan)/message", json: .object(["text": .string("hello"), "price": .null]))
            #expect(free.status == 201)
            #expect(h.fake.messages.count == 2)
            #expect(h.fake.messages.first?["fanUuid"]?.stringValue == fan)
            #expect(h.fake.messages.first?["price"] == .int(900))
            #expect(h.fake.messages.first?["messageUuid"]?.stringValue == messageUUID)

            h.fake.seedEarning(
                .object([
                    "date": .string("2026-01-02T10:00:00.000Z"), "gross": .int(900), "net": .int(720),
                    "currency": .string("USD"), "source": .string("message"), "messageUuid": .string(messageUUID),
                    "user": .object(["uuid": .string(fan), "handle": .string("fan1")]),
                ]))
            let listed = try await h.api(.GET, "/chats/\(fan)/messages?page=1&size=10")
            let items = try #require(listed.json?["data"]?.arrayValue)
            #expect(items.count == 2)
            #expect(items[0]["text"]?.stringValue == "hello")
            #expect(items[0]["purchasedAt"] == .null)
            #expect(items[1]["uuid"]?.stringValue == messageUUID)
            #expect(items[1]["purchasedAt"]?.stringValue == "2026-01-02T10:00:00.000Z")
            #expect(items[1]["pricing"] == .object(["USD": .object(["price": .int(900)])]))
            #expect(items[1]["hasMedia"] == .bool(true))

            let purchased = try await h.api(.GET, "/media/\(media)?purchasedBy=\(fan)")
            #expect(purchased.json?["purchasedByFan"] == .bool(true))
        }
    }

    @Test func massMessagesEarningsAndSubscribers() async throws {
        try await FakeFanvueHarness.with(Self.small) { h in
            h.fake.seedSubscribers(
                (1...20).map { index in
                    .object(["uuid": .string(UUID().uuidString.lowercased()), "handle": .string("fan\(index)")])
                })
            let subscribers = try await h.api(.GET, "/subscribers")
            #expect(subscribers.json?["data"]?.arrayValue?.count == 15)
            #expect(subscribers.json?["pagination"]?["hasMore"] == .bool(true))

            let noLists = try await h.api(.POST, "/chats/mass-messages", json: .object(["text": .string("hi")]))
            #expect(noLists.status == 400)
            let cheap = try await h.api(
                .POST, "/chats/mass-messages",
                json: .object([
                    "includedLists": .object(["smartListUuids": Self.ids(["subscribers"])]), "text": .string("hi"),
                    "price": .int(250),
                ]))
            #expect(cheap.status == 400)
            let sent = try await h.api(
                .POST, "/chats/mass-messages",
                json: .object([
                    "includedLists": .object(["smartListUuids": Self.ids(["subscribers"])]), "text": .string("hi"),
                ]))
            #expect(sent.status == 201, "\(sent.text)")
            #expect(sent.json?["recipientCount"] == .int(20))
            #expect(sent.json?["id"]?.stringValue != nil)
            #expect(h.fake.massMessages.first?["text"]?.stringValue == "hi")

            for day in 1...5 {
                h.fake.seedEarning(
                    .object([
                        "date": .string("2026-01-0\(day)T10:00:00.000Z"), "gross": .int(day * 100),
                        "net": .int(day * 80),
                        "currency": .string("USD"), "source": .string(day == 3 ? "tip" : "message"),
                        "user": .object(["uuid": .string(UUID().uuidString.lowercased()), "handle": .string("f")]),
                    ]))
            }
            let first = try await h.api(.GET, "/insights/earnings?size=2")
            #expect(first.json?["data"]?.arrayValue?.compactMap { $0["gross"]?.intValue } == [500, 400])
            let cursor = try #require(first.json?["nextCursor"]?.stringValue)
            let second = try await h.api(.GET, "/insights/earnings?size=2&cursor=\(cursor)")
            #expect(second.json?["data"]?.arrayValue?.compactMap { $0["gross"]?.intValue } == [300, 200])
            let tips = try await h.api(.GET, "/insights/earnings?source=tip")
            #expect(tips.json?["data"]?.arrayValue?.count == 1)
            #expect(tips.json?["nextCursor"] == .null)
            let window = try await h.api(
                .GET, "/insights/earnings?startDate=2026-01-02T00:00:00Z&endDate=2026-01-04T00:00:00Z")
            #expect(window.json?["data"]?.arrayValue?.compactMap { $0["gross"]?.intValue } == [300, 200])
        }
    }

    /// The fake refuses what Fanvue's spec refuses (`fanvue-api.md` §9): smart lists are a closed set, custom list
    /// names are unique, members go 100 a call and are read at the list itself, only a scheduled mass message can be
    /// changed, a batch reads at most 50 chats.
    @Test func listsMassMessagesAndHistoryFollowTheSpec() async throws {
        try await FakeFanvueHarness.with(Self.small) { h in
            let fans = (1...3).map { String(format: "1e0e0000-0000-4000-8000-%012d", $0) }
            h.fake.seedSubscribers(fans.map { .object(["uuid": .string($0), "handle": .string("f")]) })
            let smart = try await h.api(.GET, "/chats/lists/smart")
            #expect(smart.json?.arrayValue?.compactMap { $0["uuid"]?.stringValue }.contains("all_fans") == false)
            #expect(try await h.api(.GET, "/chats/lists/smart/top_spenders").status == 400)
            let unknown = try await h.api(
                .POST, "/chats/mass-messages",
                json: .object(["includedLists": .object(["smartListUuids": Self.ids(["all_fans"])]), "text": .string("hi")]))
            #expect(unknown.status == 400 && unknown.text.contains("smart list id must be one of subscribers"), "\(unknown.text)")

            let made = try await h.api(.POST, "/chats/lists/custom", json: .object(["name": .string("had it")]))
            #expect(made.status == 201)
            let list = try #require(made.json?["uuid"]?.stringValue)
            #expect(try await h.api(.POST, "/chats/lists/custom", json: .object(["name": .string("had it")])).status == 409)
            let tooMany = (0...100).map { JSONValue.string(String(format: "2e0e0000-0000-4000-8000-%012d", $0)) }
            #expect(try await h.api(.POST, "/chats/lists/custom/\(list)/members", json: .object(["userUuids": .array(tooMany)])).status == 400)
            let add = try await h.api(.POST, "/chats/lists/custom/\(list)/members", json: .object(["userUuids": Self.ids([fans[0]])]))
            #expect(add.json?["added"] == .int(1) && add.json?["skipped"] == .int(0))
            let again = try await h.api(.POST, "/chats/lists/custom/\(list)/members", json: .object(["userUuids": Self.ids([fans[0]])]))
            #expect(again.json?["added"] == .int(0) && again.json?["skipped"] == .int(1), "repeating an add changes nothing")
            let members = try await h.api(.GET, "/chats/lists/custom/\(list)")
            #expect(members.json?["data"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } == [fans[0]])
            #expect(try await h.api(.GET, "/chats/lists/custom/\(list)/members").status == 404, "the spec has no such route")

            // excludedLists is honoured; a sent mass message cannot be changed, a scheduled one can; DELETE unsends.
            let sent = try await h.api(
                .POST, "/chats/mass-messages",
                json: .object([
                    "includedLists": .object(["smartListUuids": Self.ids(["subscribers"])]),
                    "excludedLists": .object(["customListUuids": Self.ids([list])]), "text": .string("hi"),
                ]))
            #expect(sent.json?["recipientCount"] == .int(2))
            let id = try #require(sent.json?["id"]?.stringValue)
            #expect(try await h.api(.PATCH, "/chats/mass-messages/\(id)", json: .object(["text": .string("new")])).status == 400)
            let listed = try await h.api(.GET, "/chats/mass-messages")
            #expect(listed.json?["data"]?.arrayValue?.first?["status"] == .string("SENT"))
            #expect(try await h.api(.DELETE, "/chats/mass-messages/\(id)").status == 204)
            let gone = try await h.api(.GET, "/chats/mass-messages?includeDeleted=true")
            #expect(gone.json?["data"]?.arrayValue?.first?["status"] == .string("UNSENT"))

            // History: at most 50 chats a batch; what a fan bought is listed by purchasedBy.
            let batch = (0...50).map { JSONValue.string(String(format: "3e0e0000-0000-4000-8000-%012d", $0)) }
            #expect(try await h.api(.POST, "/chats/messages/batch", json: .object(["userUuids": .array(batch)])).status == 400)
            let read = try await h.api(.POST, "/chats/messages/batch", json: .object(["userUuids": Self.ids([fans[1], "nobody"])]))
            #expect(read.json?["byChat"]?[fans[1]]?["messages"]?.arrayValue?.isEmpty == true)
            #expect(read.json?["byChat"]?["nobody"]?["error"] == .string("not_found"))
            // The media shared in a chat, with their owner (the creator's own sends), cursor-paged.
            let media = (1...3).map { _ in h.fake.uploadByHand([0x89, 0x50, 0x4E, 0x47]) }
            h.fake.sendByHand(to: fans[2], mediaUUIDs: media)
            let first = try await h.api(.GET, "/chats/\(fans[2])/media?limit=2")
            #expect(first.json?["data"]?.arrayValue?.count == 2, "\(first.text)")
            #expect(first.json?["data"]?.arrayValue?.first?["ownerUuid"]?.stringValue != nil)
            let cursor = try #require(first.json?["nextCursor"]?.stringValue)
            let rest = try await h.api(.GET, "/chats/\(fans[2])/media?limit=2&cursor=\(cursor)")
            #expect(rest.json?["data"]?.arrayValue?.count == 1 && rest.json?["nextCursor"] == .null)
            let bought = try await h.api(.GET, "/media?purchasedBy=\(fans[1])")
            #expect(bought.status == 200 && bought.json?["data"]?.arrayValue?.isEmpty == true)
        }
    }
}
