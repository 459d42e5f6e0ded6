import ElenaFakeServer
import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// One-to-one messages and mass messages (`fanvue-api.md` §4.2, §4.3).
extension FakeFanvue {
    func addChatRoutes(to router: Router<FakeRequestContext>) {
        router.post("/chats/mass-messages") { _, context in try self.sendMassMessage(context) }
        router.post("/chats/:userUuid/message") { _, context in try self.sendMessage(context) }
        router.get("/chats/:userUuid/messages") { request, context in try self.listMessages(request, context) }
        addListRoutes(to: router)
        addHistoryRoutes(to: router)
    }

    func fanUUID(_ context: FakeRequestContext) throws(FakeHTTPError) -> String {
        let fan = context.parameters.get("userUuid") ?? ""
        guard UUIDText.isUUID(fan) else { throw .message(400, "Invalid UUID: \(fan)") }
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
        let scheduled = FakeHTTP.present(body[scheduledKey]).flatMap(\.stringValue).flatMap(Timestamp.parse)
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let count = try state.withLock { state throws(FakeHTTPError) -> Int in
            try state.requireReady(content.mediaUuids, readyAfterPolls: polls, readyAfterSeconds: seconds, now: now)
            let fans = try Self.recipients(state, included: included, excluded: excluded)
            state.massMessages.append(
                .object([
                    .init("id", .string(id)), .init("uuid", .string(id)),
                    .init("status", .string(scheduled == nil ? "SENDING" : "SCHEDULED")),
                    .init("includedLists", body["includedLists"] ?? .null),
                    .init("excludedLists", body["excludedLists"] ?? .null),
                    .init("text", content.text.map(JSONValue.string) ?? .null),
                    .init("mediaUuids", .array(content.mediaUuids.map(JSONValue.string))),
                    .init("price", content.price.map(JSONValue.int) ?? .null),
                    .init("recipientCount", .int(fans.count)), .init("recipients", .array(fans.map(JSONValue.string))),
                    .init("createdAt", FakeHTTP.time(now)), .init("scheduledAt", scheduled.map(FakeHTTP.time) ?? .null),
                    .init("publishedAt", .null), .init("viewCount", .int(0)),
                ]))
            state.deliverDueMassMessages(now: now)
            return fans.count
        }
        return FakeHTTP.json(
            201, .object(["id": .string(id), "recipientCount": .int(count), "createdAt": FakeHTTP.time(now)]))
    }

    /// `GET /chats/{userUuid}/messages?page&size`: the messages sent to that fan, newest first.
    func listMessages(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let fan = try fanUUID(context)
        let (page, size) = try FakeHTTP.page(request)
        let now = configuration.time.now
        let items = state.withLock { state -> [JSONValue] in
            state.deliverDueMassMessages(now: now)
            return state.chat(with: fan).map { chatMessage($0, fan: fan, state: state) }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }
}
