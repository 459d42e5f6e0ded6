package import ElenaCore
package import Foundation
import NIOHTTP1

/// Lists, mass messages, earnings, subscribers and chat history (`fanvue-api.md` §4.2–4.5).
extension FanvueClient: FanvueSales {
    /// Every page of a page-based list (`{data, pagination:{hasMore}}`), or a bare array.
    func allPages(_ path: String, size: Int = 50, limit: Int = .max) async throws -> [JSONValue] {
        var result: [JSONValue] = []
        var page = 1
        while result.count < limit {
            let answer = try await call(.GET, path, query: [("page", String(page)), ("size", String(size))])
            guard let json = answer.json else {
                throw FanvueError(.protocolError, message: "the answer is not JSON", request: "GET \(path)")
            }
            if let array = json.arrayValue { return array }
            let items = json["data"]?.arrayValue ?? []
            result += items
            guard json["pagination"]?["hasMore"]?.boolValue == true, !items.isEmpty else { break }
            page += 1
        }
        return Array(result.prefix(limit))
    }

    package func lists() async throws -> [FanList] {
        let smart = try await allPages("/chats/lists/smart").compactMap { entry -> FanList? in
            guard let id = entry["uuid"]?.stringValue ?? entry["id"]?.stringValue else { return nil }
            return FanList(kind: .smart, id: id, name: entry["name"]?.stringValue ?? id, count: entry["count"]?.intValue)
        }
        let custom = try await allPages("/chats/lists/custom").compactMap { entry -> FanList? in
            guard let id = entry["uuid"]?.stringValue else { return nil }
            return FanList(kind: .custom, id: id, name: entry["name"]?.stringValue ?? id, count: entry["count"]?.intValue)
        }
        return smart + custom
    }

    package func members(of list: FanList) async throws -> [String] {
        let path =
            list.kind == .smart
            ? "/chats/lists/smart/\(Self.percentEncodePath(list.id))"
            : "/chats/lists/custom/\(Self.percentEncodePath(list.id))"
        var seen: Set<String> = []
        return try await allPages(path).compactMap { entry in
            let uuid = entry["uuid"]?.stringValue ?? entry["user"]?["uuid"]?.stringValue
            guard let uuid, seen.insert(uuid).inserted else { return nil }
            return uuid
        }
    }

    /// `{smartListUuids}` or `{customListUuids}` naming some lists.
    static func listsValue(_ lists: [FanList]) -> JSONValue {
        var members: [JSONValue.Member] = []
        let smart = lists.filter { $0.kind == .smart }.map { JSONValue.string($0.id) }
        let custom = lists.filter { $0.kind == .custom }.map { JSONValue.string($0.id) }
        if !smart.isEmpty { members.append(.init("smartListUuids", .array(smart))) }
        if !custom.isEmpty { members.append(.init("customListUuids", .array(custom))) }
        return .object(members)
    }

    package func sendMassMessage(_ request: MassMessageRequest) async throws -> (id: String, recipients: Int) {
        var members: [JSONValue.Member] = [
            .init("includedLists", Self.listsValue([request.included])),
            .init("mediaUuids", .array(request.mediaUUIDs.map(JSONValue.string))),
        ]
        if !request.excluded.isEmpty { members.append(.init("excludedLists", Self.listsValue(request.excluded))) }
        if let text = request.text { members.append(.init("text", .string(text))) }
        members.append(.init("price", request.priceCents.map(JSONValue.int) ?? .null))
        if let at = request.scheduledAt { members.append(.init("scheduledAt", .string(Timestamp.format(at)))) }
        let answer = try await call(.POST, "/chats/mass-messages", json: .object(members), safety: .creates)
        guard let id = answer.json?["id"]?.stringValue else {
            throw FanvueError(.protocolError, message: "no id", request: "POST /chats/mass-messages")
        }
        return (id, answer.json?["recipientCount"]?.intValue ?? 0)
    }

    package func earnings(since: Date?, cursor: String?) async throws -> (purchases: [PurchaseRecord], next: String?) {
        try await insights("/insights/earnings", since: since, cursor: cursor, sourceKey: "source")
    }

    package func spending(since: Date?, cursor: String?) async throws -> (purchases: [PurchaseRecord], next: String?) {
        try await insights("/insights/spending", since: since, cursor: cursor, sourceKey: "type")
    }

    /// One cursor page of earnings or spending rows as purchases (a refund or chargeback has negative amounts and
    /// its `type` as the source).
    func insights(_ path: String, since: Date?, cursor: String?, sourceKey: String) async throws
        -> (purchases: [PurchaseRecord], next: String?)
    {
        var query = [("size", "50")]
        if let since { query.append(("startDate", Timestamp.format(since))) }
        if let cursor { query.append(("cursor", cursor)) }
        let answer = try await call(.GET, path, query: query)
        guard let json = answer.json, let items = json["data"]?.arrayValue else {
            throw FanvueError(.protocolError, message: "no data array", request: "GET \(path)")
        }
        let purchases = items.compactMap { item -> PurchaseRecord? in
            guard let id = item["transactionOrderId"]?.stringValue, let date = item["date"]?.stringValue.flatMap(Timestamp.parse)
            else { return nil }
            return PurchaseRecord(
                transactionID: id, fan: item["user"]?["uuid"]?.stringValue, source: item[sourceKey]?.stringValue ?? "",
                messageUUID: item["messageUuid"]?.stringValue, postUUID: item["postUuid"]?.stringValue,
                grossCents: item["gross"]?.intValue ?? 0, netCents: item["net"]?.intValue ?? 0,
                currency: item["currency"]?.stringValue, status: item["transactionOrderStatus"]?.stringValue, at: date)
        }
        return (purchases, json["nextCursor"]?.stringValue)
    }

    package func subscribers() async throws -> [FanRecord] {
        try await allPages("/subscribers").compactMap { entry in
            guard let uuid = entry["uuid"]?.stringValue else { return nil }
            return FanRecord(
                uuid: uuid, handle: entry["handle"]?.stringValue, displayName: entry["displayName"]?.stringValue,
                subscriber: true)
        }
    }

    package func messages(fan: String, limit: Int) async throws -> [ChatMessage] {
        try await allPages("/chats/\(Self.percentEncodePath(fan))/messages", limit: limit).compactMap { entry in
            guard let uuid = entry["uuid"]?.stringValue ?? entry["messageUuid"]?.stringValue else { return nil }
            return ChatMessage(
                uuid: uuid, mediaUUIDs: entry["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                priceCents: entry["pricing"]?["USD"]?["price"]?.intValue,
                purchasedAt: entry["purchasedAt"]?.stringValue.flatMap(Timestamp.parse))
        }
    }
}
