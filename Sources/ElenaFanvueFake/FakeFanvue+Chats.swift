import ElenaFakeServer
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
        router.get("/chats/lists/smart") { _, context in try self.listSmartLists(context) }
        router.get("/chats/lists/smart/:listId") { request, context in try self.listSmartMembers(request, context) }
        router.get("/chats/lists/custom") { request, context in try self.listCustomLists(request, context) }
        router.get("/chats/lists/custom/:listId/members") { request, context in
            try self.listCustomMembers(request, context)
        }
    }

    /// `GET /chats/lists/smart` → `[{uuid, name, count}]`: `subscribers` and `all_fans` hold the seeded subscribers.
    func listSmartLists(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let count = state.withLock { $0.subscribers.count }
        return FakeHTTP.json(
            200,
            .array([
                .object(["uuid": .string("subscribers"), "name": .string("Subscribers"), "count": .int(count)]),
                .object(["uuid": .string("all_fans"), "name": .string("All fans"), "count": .int(count)]),
            ]))
    }

    /// `GET /chats/lists/smart/{id}?page&size`: the members, as users.
    func listSmartMembers(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let id = context.parameters.get("listId") ?? ""
        guard Self.subscriberSmartLists.contains(id) else { throw .message(404, "Smart list not found: \(id)") }
        let (page, size) = try FakeHTTP.page(request)
        return FakeHTTP.json(200, FakeHTTP.paged(state.withLock { $0.subscribers }, page: page, size: size))
    }

    /// `GET /chats/lists/custom?page&size` → `{data:[{uuid, name, count}], pagination}`.
    func listCustomLists(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let lists = state.withLock { state in
            state.customLists.map { list -> JSONValue in
                .object(["uuid": .string(list.uuid), "name": .string(list.name), "count": .int(list.members.count)])
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(lists, page: page, size: size))
    }

    /// `GET /chats/lists/custom/{uuid}/members?page&size` (not documented; assumed to page like the smart lists).
    func listCustomMembers(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let id = context.parameters.get("listId") ?? ""
        let (page, size) = try FakeHTTP.page(request)
        guard let members = state.withLock({ state in state.customLists.first { $0.uuid == id }?.members }) else {
            throw .message(404, "Custom list not found: \(id)")
        }
        let users = members.map { JSONValue.object(["uuid": .string($0)]) }
        return FakeHTTP.json(200, FakeHTTP.paged(users, page: page, size: size))
    }

    /// The fans a mass message reaches.
    static func recipients(
        _ state: FakeState, included: (smart: [String], custom: [String]), excluded: (smart: [String], custom: [String])
    ) -> [String] {
        func fans(_ lists: (smart: [String], custom: [String])) -> [String] {
            var result: [String] = []
            if !subscriberSmartLists.isDisjoint(with: lists.smart) {
                result += state.subscribers.compactMap { $0["uuid"]?.stringValue }
            }
            for list in state.customLists where lists.custom.contains(list.uuid) { result += list.members }
            return result
        }
        let out = Set(fans(excluded))
        var seen: Set<String> = []
        return fans(included).filter { !out.contains($0) && seen.insert($0).inserted }
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
        let now = configuration.time.now
        try state.withLock { state throws(FakeHTTPError) in
            try state.requireReady(content.mediaUuids, readyAfterPolls: polls, readyAfterSeconds: seconds, now: now)
            state.messages.append(Self.message(to: fan, content, uuid: messageUUID, at: now))
        }
        return FakeHTTP.json(201, .object(["messageUuid": .string(messageUUID)]))
    }

    /// A message as the fake keeps it: `{fanUuid, text, mediaUuids, price, messageUuid, massMessageId?, sentAt}`.
    static func message(to fan: String, _ content: Content, uuid: String, at date: Date, massMessage: String? = nil) -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("fanUuid", .string(fan)),
            .init("text", content.text.map(JSONValue.string) ?? .null),
            .init("mediaUuids", .array(content.mediaUuids.map(JSONValue.string))),
            .init("price", content.price.map(JSONValue.int) ?? .null),
            .init("messageUuid", .string(uuid)),
        ]
        if let massMessage { members.append(.init("massMessageId", .string(massMessage))) }
        members.append(.init("sentAt", FakeHTTP.time(date)))
        return .object(members)
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
        _ = Self.time(body, scheduledKey, future: true, now: configuration.time.now, errors: &errors)
        guard errors.isEmpty else { throw .validation(errors) }
        let id = FakeRandom.uuid()
        let now = configuration.time.now
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let count = try state.withLock { state throws(FakeHTTPError) -> Int in
            try state.requireReady(content.mediaUuids, readyAfterPolls: polls, readyAfterSeconds: seconds, now: now)
            let fans = Self.recipients(state, included: included, excluded: excluded)
            let count = fans.count
            // Each recipient finds it in their chat as a message of its own.
            for fan in fans {
                state.messages.append(Self.message(to: fan, content, uuid: FakeRandom.uuid(), at: now, massMessage: id))
            }
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
