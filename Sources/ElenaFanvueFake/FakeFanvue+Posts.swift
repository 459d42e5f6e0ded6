import ElenaFakeServer
package import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// `POST /posts`, `GET /posts`, `GET/PATCH/DELETE /posts/{uuid}` (`fanvue-api.md` §4.1, §9.4), and posts made or
/// edited by hand in Fanvue's own pages.
extension FakeFanvue {
    static let audiences: Set<String> = ["subscribers", "followers-and-subscribers"]

    func addPostRoutes(to router: Router<FakeRequestContext>) {
        router.post("/posts") { _, context in try self.createPost(context) }
        router.get("/posts") { request, context in try self.listPosts(request, context) }
        router.get("/posts/:uuid") { _, context in try self.getPost(context) }
        router.patch("/posts/:uuid") { _, context in try self.editPost(context) }
        router.delete("/posts/:uuid") { _, context in try self.deletePost(context) }
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
            let ids = list.compactMap(\.stringValue).filter { UUIDText.isUUID($0) }
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
            if let id = value.stringValue, UUIDText.isUUID(id) {
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

    /// `GET /posts?page&size&includeUnpublished` (default true): newest first; deleted posts are not listed.
    func listPosts(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:post", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let unpublished = FakeHTTP.form(request.uri.query ?? "")["includeUnpublished"] != "false"
        let items = state.withLock { state in
            state.posts.reversed().filter { post in
                post["deletedAt"] == nil && (unpublished || FakeHTTP.present(post["publishAt"]) == nil)
            }.map(Self.postItem)
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    /// `PATCH /posts/{uuid}`: every field optional and nullable (`price: null` makes it free, `mediaUuids` replaces the
    /// media, `publishAt: null` publishes now) → 200 with the post.
    func editPost(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:post", in: context)
        let uuid = context.parameters.get("uuid") ?? ""
        guard UUIDText.isUUID(uuid) else { throw .message(400, "Invalid UUID: \(uuid)") }
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        _ = Self.content(body, minimumText: 0, errors: &errors)
        guard errors.isEmpty else { throw .validation(errors) }
        let edited = try state.withLock { state throws(FakeHTTPError) -> JSONValue in
            guard let index = state.posts.firstIndex(where: { $0["uuid"]?.stringValue == uuid && $0["deletedAt"] == nil }) else {
                throw .message(404, "Post not found")
            }
            state.posts[index] = Self.edit(state.posts[index], body)
            return state.posts[index]
        }
        return FakeHTTP.json(200, Self.postItem(edited))
    }

    /// `post` with the members of `changes` that are present in it set (a null clears).
    static func edit(_ post: JSONValue, _ changes: JSONValue) -> JSONValue {
        guard case .object(let members) = changes else { return post }
        var set: [String: JSONValue] = [:]
        for member in members where ["text", "price", "mediaUuids", "publishAt", "expiresAt", "audience"].contains(member.key) {
            set[member.key] = member.value
        }
        return post.setting(set)
    }

    /// `DELETE /posts/{uuid}`: a soft delete → 204.
    func deletePost(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:post", in: context)
        let uuid = context.parameters.get("uuid") ?? ""
        let now = configuration.time.now
        try state.withLock { state throws(FakeHTTPError) in
            guard let index = state.posts.firstIndex(where: { $0["uuid"]?.stringValue == uuid && $0["deletedAt"] == nil }) else {
                throw .message(404, "Post not found")
            }
            state.posts[index] = state.posts[index].setting(["deletedAt": FakeHTTP.time(now)])
        }
        return FakeHTTP.respond(204, "", type: "application/json")
    }

    /// The creator edits a post by hand in Fanvue's pages (no API call recorded): `changes` as a PATCH body.
    package func editPostByHand(_ uuid: String, _ changes: JSONValue) {
        state.withLock { state in
            guard let index = state.posts.firstIndex(where: { $0["uuid"]?.stringValue == uuid }) else { return }
            state.posts[index] = Self.edit(state.posts[index], changes)
        }
    }

    /// The creator posts by hand in Fanvue's pages; returns the post's uuid.
    @discardableResult
    package func postByHand(mediaUUIDs: [String], priceCents: Int? = nil, audience: String = "subscribers", text: String = "by hand")
        -> String
    {
        let uuid = FakeRandom.uuid()
        let now = configuration.time.now
        state.withLock { state in
            state.posts.append(
                .object([
                    "uuid": .string(uuid), "createdAt": FakeHTTP.time(now), "text": .string(text),
                    "price": priceCents.map(JSONValue.int) ?? .null, "audience": .string(audience),
                    "mediaUuids": .array(mediaUUIDs.map(JSONValue.string)),
                ]))
        }
        return uuid
    }

    func getPost(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:post", in: context)
        let uuid = context.parameters.get("uuid") ?? ""
        guard UUIDText.isUUID(uuid) else { throw .message(400, "Invalid UUID: \(uuid)") }
        guard let post = state.withLock({ $0.posts.first { $0["uuid"]?.stringValue == uuid } }) else {
            throw .message(404, "Post not found")
        }
        return FakeHTTP.json(200, Self.postItem(post))
    }
}
