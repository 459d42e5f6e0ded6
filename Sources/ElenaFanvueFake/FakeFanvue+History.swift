import Crypto
import ElenaFakeServer
import ElenaCore
package import Foundation
import Hummingbird
import NIOCore

/// What Fanvue remembers after a send: the mass messages with their status machine, the chat history read in
/// batches, and what the creator does by hand in Fanvue's own pages (`fanvue-api.md` §9.2, §9.3).
///
/// Choices for the unknowns ([G]):
/// - `POST /chats/messages/batch {userUuids (1–50), limit (1–50, default 50)}` answers `{byChat: {<fan>:
///   {messages, hasMore, oldestMessageUuid}}}`, newest first, the shape a published client of the API reads; a uuid
///   that is not a chat of the creator answers `{error: "not_found"}` in its place.
/// - A mass message's copy in a chat has `type` `MASS_MESSAGE`; a one-to-one message (by the API or by hand)
///   `SINGLE_RECIPIENT`.
/// - A mass message is `SENT` at once unless scheduled; a scheduled one is `SCHEDULED` until a request arrives
///   after its `scheduledAt`, then it is delivered and `SENT`. `MODERATED` and `FAILED` (set by a test) and
///   `UNSENT` (a `DELETE`) take its copies out of the chats, except the copies a fan bought.
/// - `purchaseCount` and `totalRevenue` come from the seeded earnings of its copies; `viewCount` is what a test set.
extension FakeFanvue {
    static let massMessageStatuses: Set<String> = ["SENT", "UNSENT", "SENDING", "FAILED", "MODERATED", "SCHEDULED"]

    func addHistoryRoutes(to router: Router<FakeRequestContext>) {
        router.get("/chats/mass-messages") { request, context in try self.listMassMessages(request, context) }
        router.patch("/chats/mass-messages/:messageUuid") { _, context in try self.updateMassMessage(context) }
        router.delete("/chats/mass-messages/:messageUuid") { _, context in try self.unsendMassMessage(context) }
        router.post("/chats/messages/batch") { _, context in try self.messagesBatch(context) }
        router.get("/chats") { request, context in try self.listChats(request, context) }
        router.get("/chats/:userUuid/media") { request, context in try self.listChatMedia(request, context) }
    }

    /// `GET /chats/{userUuid}/media?cursor&limit` (limit 1–50, default 20): the media shared in the chat, newest first,
    /// each `{uuid (the media), messageUuid, ownerUuid, sentAt, purchasedAt}`; `{data, nextCursor}`.
    func listChatMedia(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let fan = try fanUUID(context)
        let query = FakeHTTP.form(request.uri.query ?? "")
        var limit = 20
        if let text = query["limit"] {
            guard let value = Int(text), (1...50).contains(value) else { throw .validation(["limit must be an integer between 1 and 50"]) }
            limit = value
        }
        var offset = 0
        if let cursor = query["cursor"], !cursor.isEmpty {
            guard cursor.hasPrefix("m"), let value = Int(cursor.dropFirst()), value >= 0 else { throw .validation(["cursor is not valid"]) }
            offset = value
        }
        let now = configuration.time.now
        let creator = configuration.userUUID
        let items = state.withLock { state -> [JSONValue] in
            state.deliverDueMassMessages(now: now)
            return state.chat(with: fan).flatMap { message -> [JSONValue] in
                let uuid = message["messageUuid"]?.stringValue ?? ""
                let bought = state.earnings.first { $0["messageUuid"]?.stringValue == uuid }?["date"] ?? .null
                return (message["mediaUuids"]?.arrayValue ?? []).map { media in
                    .object([
                        "uuid": media, "messageUuid": .string(uuid), "ownerUuid": .string(creator),
                        "sentAt": message["sentAt"] ?? .null, "purchasedAt": bought,
                    ])
                }
            }
        }
        let page = Array(items.dropFirst(offset).prefix(limit))
        let next = offset + page.count < items.count ? JSONValue.string("m\(offset + page.count)") : .null
        return FakeHTTP.json(200, .object(["data": .array(page), "nextCursor": next]))
    }

    // MARK: Routes

    /// `GET /chats/mass-messages?page&size&includeDeleted`: newest first.
    func listMassMessages(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let includeDeleted = FakeHTTP.form(request.uri.query ?? "")["includeDeleted"] == "true"
        let now = configuration.time.now
        let items = state.withLock { state -> [JSONValue] in
            state.deliverDueMassMessages(now: now)
            return state.massMessages.reversed().filter { includeDeleted || $0["status"]?.stringValue != "UNSENT" }.map {
                state.massMessageSummary($0)
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    /// `PATCH /chats/mass-messages/{uuid}`: only a scheduled one; every field optional, the result validated as a
    /// whole (a price still needs media) → 204.
    func updateMassMessage(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let id = context.parameters.get("messageUuid") ?? ""
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        let scheduled = Self.time(body, "scheduledAt", future: true, now: configuration.time.now, errors: &errors)
        guard errors.isEmpty else { throw .validation(errors) }
        let now = configuration.time.now
        try state.withLock { state throws(FakeHTTPError) in
            state.deliverDueMassMessages(now: now)
            guard let index = state.massMessages.firstIndex(where: { $0["uuid"]?.stringValue == id }) else {
                throw .message(404, "Mass message not found: \(id)")
            }
            guard state.massMessages[index]["status"]?.stringValue == "SCHEDULED" else {
                throw .message(400, "Only scheduled mass messages can be updated")
            }
            var changes: [String: JSONValue] = [:]
            for key in ["text", "mediaUuids", "price"] { if let value = body[key] { changes[key] = value } }
            if let scheduled { changes["scheduledAt"] = FakeHTTP.time(scheduled) }
            let merged = state.massMessages[index].setting(changes)
            var errors: [String] = []
            _ = Self.content(merged, minimumText: 1, errors: &errors)
            guard errors.isEmpty else { throw .validation(errors) }
            state.massMessages[index] = merged
        }
        return FakeHTTP.respond(204, "", type: "application/json")
    }

    /// `DELETE /chats/mass-messages/{uuid}`: unsends → 204; buyers keep their copies.
    func unsendMassMessage(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let id = context.parameters.get("messageUuid") ?? ""
        try state.withLock { state throws(FakeHTTPError) in
            guard state.massMessages.contains(where: { $0["uuid"]?.stringValue == id }) else {
                throw .message(404, "Mass message not found: \(id)")
            }
            state.withdraw(massMessage: id, status: "UNSENT")
        }
        return FakeHTTP.respond(204, "", type: "application/json")
    }

    /// `GET /chats?page&size`: every chat with a message, the most recent first.
    func listChats(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let now = configuration.time.now
        let items = state.withLock { state -> [JSONValue] in
            state.deliverDueMassMessages(now: now)
            var seen: Set<String> = []
            return state.messages.reversed().compactMap { message -> JSONValue? in
                guard let fan = message["fanUuid"]?.stringValue, seen.insert(fan).inserted else { return nil }
                let user = state.subscriberByUUID[fan] ?? .object(["uuid": .string(fan)])
                return .object([
                    "user": user, "lastMessage": chatMessage(message, fan: fan, state: state),
                    "lastMessageAt": message["sentAt"] ?? .null, "isRead": .bool(true),
                    "isMuted": .bool(false), "unreadMessagesCount": .int(0),
                ])
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    /// `POST /chats/messages/batch {userUuids, limit}` → `{byChat}`.
    func messagesBatch(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:chat", in: context)
        let body = try FakeHTTP.object(context.body)
        let list = body["userUuids"]?.arrayValue ?? []
        let fans = list.compactMap(\.stringValue)
        guard !fans.isEmpty, fans.count == list.count, fans.count <= 50 else {
            throw .validation(["userUuids must be a list of 1 to 50 user uuids"])
        }
        var limit = 50
        if let value = FakeHTTP.present(body["limit"]) {
            guard let number = value.intValue, (1...50).contains(number) else {
                throw .validation(["limit must be an integer between 1 and 50"])
            }
            limit = number
        }
        let now = configuration.time.now
        let byChat = state.withLock { state -> [JSONValue.Member] in
            state.deliverDueMassMessages(now: now)
            return fans.map { fan -> JSONValue.Member in
                let chat = state.chat(with: fan)
                guard UUIDText.isUUID(fan), !chat.isEmpty || state.isFan(fan) else {
                    return .init(fan, .object(["error": .string("not_found")]))
                }
                let page = chat.prefix(limit).map { chatMessage($0, fan: fan, state: state) }
                return .init(
                    fan,
                    .object([
                        "messages": .array(Array(page)), "hasMore": .bool(chat.count > limit),
                        "oldestMessageUuid": page.last?["uuid"] ?? .null,
                    ]))
            }
        }
        return FakeHTTP.json(200, .object(["byChat": .object(byChat)]))
    }

    /// One message as the chat endpoints show it.
    func chatMessage(_ message: JSONValue, fan: String, state: FakeState) -> JSONValue {
        let me = JSONValue.object(["uuid": .string(configuration.userUUID), "handle": .string(configuration.handle)])
        let fanHandle = state.subscriberByUUID[fan]?["handle"] ?? .null
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
            "type": .string(message["massMessageId"] == nil ? "SINGLE_RECIPIENT" : "MASS_MESSAGE"),
            "pricing": price.map { JSONValue.object(["USD": .object(["price": $0])]) } ?? .null,
            "purchasedAt": purchase.flatMap { $0["date"] } ?? .null,
            "sentByUserId": .string(configuration.userUUID),
            "isRead": .bool(false),
        ])
    }

    // MARK: What a test does on "Fanvue's own pages"

    /// The creator sends a message by hand in Fanvue's chat page (no API call is recorded); returns its uuid.
    @discardableResult
    package func sendByHand(to fan: String, mediaUUIDs: [String], priceCents: Int? = nil, text: String? = nil, at date: Date? = nil)
        -> String
    {
        let uuid = FakeRandom.uuid()
        let content = Content(text: text, mediaUuids: mediaUUIDs, price: priceCents)
        state.withLock { $0.messages.append(Self.message(to: fan, content, uuid: uuid, at: date ?? configuration.time.now)) }
        return uuid
    }

    /// The creator uploads a file by hand in Fanvue's vault page: a ready media (no API call recorded); returns its
    /// uuid.
    @discardableResult
    package func uploadByHand(_ bytes: [UInt8], filename: String = "by-hand.png") -> String {
        let uuid = FakeRandom.uuid()
        var info = Media(
            uuid: uuid, uploadID: FakeRandom.token(bytes: 20), name: filename, filename: filename, mediaType: "image",
            status: .ready, parts: [:], createdAt: configuration.time.now)
        info.size = bytes.count
        info.sha256 = FakeRandom.hex(SHA256.hash(data: bytes))
        if let header = try? ImageHeader.read(Data(bytes)) {
            info.width = header.width
            info.height = header.height
        }
        state.withLock { state in
            state.mediaOrder.append(uuid)
            state.media[uuid] = MediaRecord(info: info, bytes: bytes, completed: true, completedAt: configuration.time.now)
        }
        return uuid
    }

    /// Fanvue moves a mass message to `status` after its 201: `MODERATED` or `FAILED` take its copies out of the
    /// chats (nobody got it); other statuses are only recorded.
    package func setMassMessageStatus(_ id: String, _ status: String, viewCount: Int? = nil) {
        precondition(Self.massMessageStatuses.contains(status), "unknown mass-message status \(status)")
        let now = configuration.time.now
        state.withLock { state in
            state.deliverDueMassMessages(now: now)
            if status == "MODERATED" || status == "FAILED" {
                state.withdraw(massMessage: id, status: status)
            } else if let index = state.massMessages.firstIndex(where: { $0["uuid"]?.stringValue == id }) {
                state.massMessages[index] = state.massMessages[index].setting(["status": .string(status)])
            }
            if let viewCount, let index = state.massMessages.firstIndex(where: { $0["uuid"]?.stringValue == id }) {
                state.massMessages[index] = state.massMessages[index].setting(["viewCount": .int(viewCount)])
            }
        }
    }

    /// Custom list name → members, as Fanvue holds them now.
    package var customLists: [String: [String]] {
        state.withLock { state in
            Dictionary(state.customLists.map { ($0.name, $0.members) }, uniquingKeysWith: { first, _ in first })
        }
    }
}

extension FakeState {
    /// The messages in the chat with `fan`, newest first.
    func chat(with fan: String) -> [JSONValue] {
        messages.filter { $0["fanUuid"]?.stringValue == fan }.reversed()
    }

    func isFan(_ fan: String) -> Bool {
        subscriberByUUID[fan] != nil
    }

    /// Delivers every mass message that is sending, or scheduled and due: one copy in each recipient's chat.
    mutating func deliverDueMassMessages(now: Date) {
        for index in massMessages.indices {
            let message = massMessages[index]
            let status = message["status"]?.stringValue
            let due = message["scheduledAt"]?.stringValue.flatMap(Timestamp.parse).map { $0 <= now } ?? true
            guard status == "SENDING" || (status == "SCHEDULED" && due), let id = message["uuid"]?.stringValue else {
                continue
            }
            let content = FakeFanvue.Content(
                text: message["text"]?.stringValue, mediaUuids: message["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                price: message["price"]?.intValue)
            for fan in message["recipients"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                messages.append(FakeFanvue.message(to: fan, content, uuid: FakeRandom.uuid(), at: now, massMessage: id))
            }
            massMessages[index] = message.setting(["status": .string("SENT"), "publishedAt": FakeHTTP.time(now)])
        }
    }

    /// Takes a mass message's copies out of the chats (a buyer keeps theirs) and sets its status.
    mutating func withdraw(massMessage id: String, status: String) {
        let bought = Set(earnings.compactMap { $0["messageUuid"]?.stringValue })
        messages.removeAll { message in
            message["massMessageId"]?.stringValue == id && !bought.contains(message["messageUuid"]?.stringValue ?? "")
        }
        if let index = massMessages.firstIndex(where: { $0["uuid"]?.stringValue == id }) {
            massMessages[index] = massMessages[index].setting(["status": .string(status)])
        }
    }

    /// A mass message as `GET /chats/mass-messages` lists it.
    func massMessageSummary(_ message: JSONValue) -> JSONValue {
        let id = message["uuid"]?.stringValue ?? ""
        let copies = Set(messages.filter { $0["massMessageId"]?.stringValue == id }.compactMap { $0["messageUuid"]?.stringValue })
        let sales = earnings.filter { copies.contains($0["messageUuid"]?.stringValue ?? "") }
        var result: [JSONValue.Member] = []
        for key in ["uuid", "text", "status", "price", "createdAt", "publishedAt", "scheduledAt", "recipientCount", "viewCount"] {
            result.append(.init(key, message[key] ?? .null))
        }
        result.append(.init("purchaseCount", .int(sales.count)))
        result.append(.init("totalRevenue", .int(sales.reduce(0) { $0 + ($1["gross"]?.intValue ?? 0) })))
        result.append(.init("mediaUuids", message["mediaUuids"] ?? .array([])))
        return .object(result)
    }
}

extension JSONValue {
    /// This object with `changes` set (members replaced in place or appended).
    func setting(_ changes: [String: JSONValue]) -> JSONValue {
        guard case .object(var members) = self else { return self }
        for (key, value) in changes.sorted(by: { $0.key < $1.key }) {
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].value = value
            } else {
                members.append(.init(key, value))
            }
        }
        return .object(members)
    }
}
