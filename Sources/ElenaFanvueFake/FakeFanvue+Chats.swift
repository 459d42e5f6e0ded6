import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// One-to-one messages and mass messages (`fanvue-api.md` §4.2, §4.3).
extension FakeFanvue {
    /// Smart lists whose members are the seeded subscribers.
    static let subscriberSmartLists: Set<String> = ["subscribers", "all_fans"]

    func addChatRoutes(to router: Router<FakeRequestContext>) {
        router.post("/chats/mass-messages") { _, context in try self.sendMassMessage(context) }
        router.post("/chats/:userUuid/message") { _, context in try self.sendMessage(context) }
        router.get("/chats/:userUuid/messages") { request, context in try self.listMessages(request, context) }
    }

    func fanUUID(_ context: FakeRequestContext) throws(FakeHTTPError) -> String {
        let fan = context.parameters.get("userUuid") ?? ""
        guard FakeHTTP.isUUID(fan) else { throw .message(400, "Invalid UUID: \(fan)") }
        return fan
    }

    /// `POST /chats/{userUuid}/message {text, mediaUuids, price}` → 201 `{messageUuid}`.
    func sendMessage(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let fan = try fanUUID(context)
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        let content = Self.content(body, minimumText: 1, errors: &errors)
        guard errors.isEmpty else { throw .validation(errors) }
        let messageUUID = FakeRandom.uuid()
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        try state.withLock { state throws(FakeHTTPError) in
            try state.requireReady(content.mediaUuids, readyAfterPolls: polls, readyAfterSeconds: seconds)
            state.messages.append(
                .object([
                    "fanUuid": .string(fan),
                    "text": content.text.map(JSONValue.string) ?? .null,
                    "mediaUuids": .array(content.mediaUuids.map(JSONValue.string)),
                    "price": content.price.map(JSONValue.int) ?? .null,
                    "messageUuid": .string(messageUUID),
                    "sentAt": FakeHTTP.time(Date()),
                ]))
        }
        return FakeHTTP.json(201, .object(["messageUuid": .string(messageUUID)]))
    }

    /// Reads `includedLists` / `excludedLists`.
    static func lists(_ value: JSONValue?, _ key: String, errors: inout [String]) -> (smart: [String], custom: [String])
    {
        guard case .object = value else {
            errors.append("\(key) must be an object with smartListUuids and/or customListUuids")
            return ([], [])
        }
        func strings(_ field: String) -> [String] {
            guard let member = FakeHTTP.present(value?[field]) else { return [] }
            guard let list = member.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                errors.append("\(key).\(field) must be a list of strings")
                return []
            }
            return list.compactMap(\.stringValue)
        }
        return (strings("smartListUuids"), strings("customListUuids"))
    }

    /// `POST /chats/mass-messages` → 201 `{id, recipientCount, createdAt}`.
    func sendMassMessage(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", "read:fan", in: context)
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        let included = Self.lists(body["includedLists"], "includedLists", errors: &errors)
        if errors.isEmpty && included.smart.isEmpty && included.custom.isEmpty {
            errors.append("includedLists must name at least one list")
        }
        var excluded: (smart: [String], custom: [String]) = ([], [])
        if FakeHTTP.present(body["excludedLists"]) != nil {
            excluded = Self.lists(body["excludedLists"], "excludedLists", errors: &errors)
        }
        let content = Self.content(body, minimumText: 1, errors: &errors)
        let scheduledKey = body["scheduledAt"] != nil ? "scheduledAt" : "scheduled_at"
        _ = Self.time(body, scheduledKey, future: true, errors: &errors)
        guard errors.isEmpty else { throw .validation(errors) }
        let id = FakeRandom.uuid()
        let now = Date()
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let reachesSubscribers =
            !Self.subscriberSmartLists.isDisjoint(with: included.smart)
            && Self.subscriberSmartLists.isDisjoint(with: excluded.smart)
        let count = try state.withLock { state throws(FakeHTTPError) -> Int in
            try state.requireReady(content.mediaUuids, readyAfterPolls: polls, readyAfterSeconds: seconds)
            let count = reachesSubscribers ? state.subscribers.count : 0
            if case .object(var members) = body {
                members.append(.init("id", .string(id)))
                members.append(.init("recipientCount", .int(count)))
                members.append(.init("createdAt", FakeHTTP.time(now)))
                state.massMessages.append(.object(members))
            }
            return count
        }
        return FakeHTTP.json(
            201, .object(["id": .string(id), "recipientCount": .int(count), "createdAt": FakeHTTP.time(now)]))
    }

    /// `GET /chats/{userUuid}/messages?page&size`: the messages sent to that fan, newest first.
    func listMessages(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let fan = try fanUUID(context)
        let (page, size) = try FakeHTTP.page(request)
        let me = JSONValue.object(["uuid": .string(configuration.userUUID), "handle": .string(configuration.handle)])
        let items = state.withLock { state -> [JSONValue] in
            let fanHandle = state.subscribers.first { $0["uuid"]?.stringValue == fan }?["handle"] ?? .null
            return state.messages.filter { $0["fanUuid"]?.stringValue == fan }.reversed().map { message in
                let uuid = message["messageUuid"]?.stringValue ?? ""
                let media = message["mediaUuids"]?.arrayValue ?? []
                let mediaType = media.first.flatMap { $0.stringValue }.flatMap { state.media[$0]?.info.mediaType }
                let purchase = state.earnings.first { $0["messageUuid"]?.stringValue == uuid }
                let price = FakeHTTP.present(message["price"])
                return .object([
                    "uuid": .string(uuid),
                    "text": message["text"] ?? .null,
                    "sentAt": message["sentAt"] ?? .null,
                    "sender": me,
                    "recipient": .object(["uuid": .string(fan), "handle": fanHandle]),
                    "hasMedia": .bool(!media.isEmpty),
                    "mediaType": mediaType.map(JSONValue.string) ?? .null,
                    "mediaUuids": .array(media),
                    "type": .string("SINGLE_RECIPIENT"),
                    "pricing": price.map { JSONValue.object(["USD": .object(["price": $0])]) } ?? .null,
                    "purchasedAt": purchase.flatMap { $0["date"] } ?? .null,
                    "sentByUserId": .string(configuration.userUUID),
                    "isRead": .bool(false),
                ])
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }
}
