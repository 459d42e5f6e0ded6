import AsyncHTTPClient
package import ElenaCore
package import Foundation
import NIOCore
import NIOHTTP1

/// The creator's history on Fanvue (chats, mass messages, media bytes) and custom lists (`fanvue-api.md` §9).
extension FanvueClient: FanvueHistory, FanvueAudiences {
    package func chats() async throws -> [(fan: String, lastMessage: String?)] {
        var seen: Set<String> = []
        return try await allPages("/chats").compactMap { entry in
            guard let uuid = entry["user"]?["uuid"]?.stringValue, seen.insert(uuid).inserted else { return nil }
            return (uuid, entry["lastMessage"]?["uuid"]?.stringValue)
        }
    }

    /// A message of a chat endpoint's answer.
    static func historyMessage(_ entry: JSONValue, account: String) -> HistoryMessage? {
        guard let uuid = entry["uuid"]?.stringValue, let sentAt = entry["sentAt"]?.stringValue.flatMap(Timestamp.parse) else {
            return nil
        }
        let sender = entry["sender"]?["uuid"]?.stringValue ?? entry["sentByUserId"]?.stringValue
        return HistoryMessage(
            uuid: uuid, fromCreator: sender == account, type: entry["type"]?.stringValue ?? "",
            mediaUUIDs: entry["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            priceCents: entry["pricing"]?["USD"]?["price"]?.intValue, sentAt: sentAt,
            purchasedAt: entry["purchasedAt"]?.stringValue.flatMap(Timestamp.parse))
    }

    package func recentMessages(fans: [String]) async throws -> [String: ChatPage] {
        guard !fans.isEmpty else { return [:] }
        let me = try await account
        let body = JSONValue.object([
            "userUuids": .array(fans.map(JSONValue.string)), "limit": .int(50),
        ])
        let answer = try await call(.POST, "/chats/messages/batch", json: body)
        guard case .object(let chats)? = answer.json?["byChat"] else {
            throw FanvueError(.protocolError, message: "no byChat object", request: "POST /chats/messages/batch")
        }
        var result: [String: ChatPage] = [:]
        for chat in chats where chat.value["error"] == nil {
            let messages = chat.value["messages"]?.arrayValue?.compactMap { Self.historyMessage($0, account: me) } ?? []
            result[chat.key] = ChatPage(messages: messages, hasMore: chat.value["hasMore"]?.boolValue ?? false)
        }
        return result
    }

    package func messages(fan: String, page: Int) async throws -> ChatPage {
        let me = try await account
        let path = "/chats/\(Self.percentEncodePath(fan))/messages"
        let answer = try await call(.GET, path, query: [("page", String(page)), ("size", "50")])
        guard let json = answer.json, let items = json["data"]?.arrayValue else {
            throw FanvueError(.protocolError, message: "no data array", request: "GET \(path)")
        }
        return ChatPage(
            messages: items.compactMap { Self.historyMessage($0, account: me) },
            hasMore: json["pagination"]?["hasMore"]?.boolValue ?? false)
    }

    package func download(media: String) async throws -> Data? {
        let answer = try await call(.GET, "/media/\(Self.percentEncodePath(media))", query: [("variants", "main")])
        guard let url = answer.json?["variants"]?.arrayValue?.first?["url"]?.stringValue else { return nil }
        // Straight from storage, without the bearer token.
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        await counter.count(storage: true)
        let response = try await HTTPClient.shared.execute(
            request, timeout: .milliseconds(Int64(configuration.requestTimeout * 1000)))
        guard response.status == .ok else { return nil }
        let buffer = try await response.body.collect(upTo: 256 << 20)
        return Data(buffer.readableBytesView)
    }

    package func massMessages() async throws -> [CampaignState] {
        try await allPages("/chats/mass-messages").compactMap { entry in
            guard let id = entry["uuid"]?.stringValue ?? entry["id"]?.stringValue, let status = entry["status"]?.stringValue
            else { return nil }
            return CampaignState(
                id: id, status: CampaignStatus(rawValue: status), mediaUUIDs: entry["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                text: entry["text"]?.stringValue, priceCents: entry["price"]?.intValue,
                createdAt: entry["createdAt"]?.stringValue.flatMap(Timestamp.parse),
                scheduledAt: entry["scheduledAt"]?.stringValue.flatMap(Timestamp.parse),
                recipientCount: entry["recipientCount"]?.intValue ?? 0, viewCount: entry["viewCount"]?.intValue ?? 0,
                purchaseCount: entry["purchaseCount"]?.intValue ?? 0, revenueCents: entry["totalRevenue"]?.intValue ?? 0)
        }
    }

    package func feedPosts() async throws -> [FeedPost] {
        try await allPages("/posts").compactMap { entry in
            guard let uuid = entry["uuid"]?.stringValue else { return nil }
            return FeedPost(
                uuid: uuid, mediaUUIDs: entry["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                priceCents: entry["price"]?.intValue, audience: entry["audience"]?.stringValue,
                publishAt: entry["publishAt"]?.stringValue.flatMap(Timestamp.parse))
        }
    }

    package func createCustomList(name: String) async throws -> FanList? {
        do {
            let answer = try await call(.POST, "/chats/lists/custom", json: .object(["name": .string(name)]), safety: .creates)
            guard let uuid = answer.json?["uuid"]?.stringValue else {
                throw FanvueError(.protocolError, message: "no uuid", request: "POST /chats/lists/custom")
            }
            return FanList(kind: .custom, id: uuid, name: name, count: 0)
        } catch let error as FanvueError where error.statusCode == 409 {
            return nil
        }
    }

    package func addMembers(_ fans: [String], to list: FanList) async throws -> Int {
        // Fanvue skips fans already in the list, so repeating the call after a lost answer is safe.
        let answer = try await call(
            .POST, "/chats/lists/custom/\(Self.percentEncodePath(list.id))/members",
            json: .object(["userUuids": .array(fans.map(JSONValue.string))]))
        return answer.json?["added"]?.intValue ?? 0
    }

    package func removeMember(_ fan: String, from list: FanList) async throws {
        _ = try await call(
            .DELETE, "/chats/lists/custom/\(Self.percentEncodePath(list.id))/members/\(Self.percentEncodePath(fan))")
    }

    package func updateMassMessage(_ id: String, at: Date?, priceCents: Int??, text: String?) async throws {
        var members: [JSONValue.Member] = []
        if let at { members.append(.init("scheduledAt", .string(Timestamp.format(at)))) }
        if let priceCents { members.append(.init("price", priceCents.map(JSONValue.int) ?? .null)) }
        if let text { members.append(.init("text", .string(text))) }
        _ = try await call(.PATCH, "/chats/mass-messages/\(Self.percentEncodePath(id))", json: .object(members))
    }

    package func unsendMassMessage(_ id: String) async throws {
        _ = try await call(.DELETE, "/chats/mass-messages/\(Self.percentEncodePath(id))")
    }
}
