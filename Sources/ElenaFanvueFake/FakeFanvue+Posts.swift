import ElenaFakeServer
import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// `POST /posts`, `GET /posts`, `GET /posts/{uuid}` (`fanvue-api.md` §4.1).
extension FakeFanvue {
    static let audiences: Set<String> = ["subscribers", "followers-and-subscribers"]

    func addPostRoutes(to router: Router<FakeRequestContext>) {
        router.post("/posts") { _, context in try self.createPost(context) }
        router.get("/posts") { request, context in try self.listPosts(request, context) }
        router.get("/posts/:uuid") { _, context in try self.getPost(context) }
    }

    /// Text, media and price shared by posts and messages.
    struct Content {
        var text: String?
        var mediaUuids: [String] = []
        var price: Int?
    }

    /// Reads `text`, `mediaUuids` and `price`, adding what is wrong to `errors`.
    static func content(_ body: JSONValue, minimumText: Int, errors: inout [String]) -> Content {
        var content = Content()
        switch FakeHTTP.present(body["text"]) {
        case nil: break
        case .string(let text)?:
            if text.count > 5000 || text.count < minimumText {
                errors.append("text must have \(minimumText) to 5000 characters")
            } else if !text.isEmpty {
                content.text = text
            }
        default: errors.append("text must be a string")
        }
        switch FakeHTTP.present(body["mediaUuids"]) {
        case nil: break
        case .array(let list)?:
            let ids = list.compactMap(\.stringValue).filter(FakeHTTP.isUUID)
            if ids.count == list.count {
                content.mediaUuids = ids
            } else {
                errors.append("mediaUuids must be a list of uuids")
            }
        default: errors.append("mediaUuids must be a list of uuids")
        }
        if let price = FakeHTTP.present(body["price"]) {
            if let cents = price.intValue, cents >= 300 {
                content.price = cents
            } else if price.doubleValue != nil {
                errors.append("price must be a whole number of cents of at least 300")
            } else {
                errors.append("price must be a number")
            }
            if content.mediaUuids.isEmpty { errors.append("price requires at least one media in mediaUuids") }
        }
        if content.text == nil && content.mediaUuids.isEmpty && !errors.contains(where: { $0.hasPrefix("text") }) {
            errors.append("text or mediaUuids is required")
        }
        return content
    }

    /// An optional ISO 8601 time; `future` requires it to be later than now.
    static func time(_ body: JSONValue, _ key: String, future: Bool, now: Date, errors: inout [String]) -> Date? {
        guard let value = FakeHTTP.present(body[key]) else { return nil }
        guard let text = value.stringValue, let date = Timestamp.parse(text) else {
            errors.append("\(key) must be an ISO 8601 date-time")
            return nil
        }
        if future && date <= now { errors.append("\(key) must be in the future") }
        return date
    }

    func createPost(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:post", in: context)
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        let audience = body["audience"]?.stringValue
        if !(audience.map(Self.audiences.contains) ?? false) {
            errors.append("audience must be one of subscribers, followers-and-subscribers")
        }
        let content = Self.content(body, minimumText: 0, errors: &errors)
        let publishAt = Self.time(body, "publishAt", future: true, now: configuration.time.now, errors: &errors)
        let expiresAt = Self.time(body, "expiresAt", future: true, now: configuration.time.now, errors: &errors)
        if let publishAt, let expiresAt, expiresAt <= publishAt { errors.append("expiresAt must be after publishAt") }
        var preview: String?
        if let value = FakeHTTP.present(body["mediaPreviewUuid"]) {
            if let id = value.stringValue, FakeHTTP.isUUID(id) {
                preview = id
            } else {
                errors.append("mediaPreviewUuid must be a uuid")
            }
        }
        guard errors.isEmpty else { throw .validation(errors) }
        let uuid = FakeRandom.uuid()
        let now = configuration.time.now
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let answer = JSONValue.object([
            "uuid": .string(uuid),
            "createdAt": FakeHTTP.time(now),
            "text": content.text.map(JSONValue.string) ?? .null,
            "price": content.price.map(JSONValue.int) ?? .null,
            "mediaPreviewUuid": preview.map(JSONValue.string) ?? .null,
            "audience": audience.map(JSONValue.string) ?? .null,
            "publishAt": publishAt.map(FakeHTTP.time) ?? .null,
            "publishedAt": publishAt == nil ? FakeHTTP.time(now) : .null,
            "expiresAt": expiresAt.map(FakeHTTP.time) ?? .null,
        ])
        try state.withLock { state throws(FakeHTTPError) in
            try state.requireReady(
                content.mediaUuids + (preview.map { [$0] } ?? []), readyAfterPolls: polls, readyAfterSeconds: seconds, now: now)
            guard case .object(var members) = body else { return }
            members.append(.init("uuid", .string(uuid)))
            members.append(.init("createdAt", FakeHTTP.time(now)))
            state.posts.append(.object(members))
        }
        return FakeHTTP.json(201, answer)
    }

    /// A post as `GET /posts` lists it.
    static func postItem(_ post: JSONValue) -> JSONValue {
        let publishAt = FakeHTTP.present(post["publishAt"])
        return .object([
            "uuid": post["uuid"] ?? .null,
            "createdAt": post["createdAt"] ?? .null,
            "text": post["text"] ?? .null,
            "price": post["price"] ?? .null,
            "mediaPreviewUuid": post["mediaPreviewUuid"] ?? .null,
            "audience": post["audience"] ?? .null,
            "publishAt": publishAt ?? .null,
            "publishedAt": publishAt == nil ? post["createdAt"] ?? .null : .null,
            "expiresAt": post["expiresAt"] ?? .null,
            "mediaUuids": post["mediaUuids"] ?? .array([]),
            "isPinned": .bool(false),
            "likesCount": .int(0),
            "commentsCount": .int(0),
        ])
    }

    func listPosts(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:post", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let items = state.withLock { $0.posts.reversed().map(Self.postItem) }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    func getPost(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:post", in: context)
        let uuid = context.parameters.get("uuid") ?? ""
        guard FakeHTTP.isUUID(uuid) else { throw .message(400, "Invalid UUID: \(uuid)") }
        guard let post = state.withLock({ $0.posts.first { $0["uuid"]?.stringValue == uuid } }) else {
            throw .message(404, "Post not found")
        }
        return FakeHTTP.json(200, Self.postItem(post))
    }
}
