import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// Smart and custom lists (`fanvue-api.md` §4.3, §9.2).
///
/// Choices for the unknowns ([G]): the smart lists are the spec's closed enum and only `subscribers` has members
/// (the seeded subscribers); an unknown smart-list id is a 400 `{errors}` wherever it appears (a path or a mass
/// message's lists), as an enum violation is. The member calls take `{userUuids: [...]}`; a custom list's members
/// are read, paged, at `GET /chats/lists/custom/{uuid}` as users `{uuid}`; changing a custom list needs `write:chat`
/// (the scope table has no `write:fan`).
extension FakeFanvue {
    /// The smart-list ids of the spec, in its order, with the names Fanvue shows.
    static let smartLists: [(id: String, name: String)] = [
        ("subscribers", "Subscribers"), ("auto_renewing", "Auto-renewing"), ("non_renewing", "Non-renewing"),
        ("followers", "Followers"), ("free_trial_subscribers", "Free trial subscribers"),
        ("expired_subscribers", "Expired subscribers"), ("spent_more_than_50", "Spent more than $50"),
        ("muted", "Muted"),
    ]

    /// At most this many fans in one member call.
    static let membersPerCall = 100

    func addListRoutes(to router: Router<FakeRequestContext>) {
        router.get("/chats/lists/smart") { _, context in try self.listSmartLists(context) }
        router.get("/chats/lists/smart/:listId") { request, context in try self.listSmartMembers(request, context) }
        router.get("/chats/lists/custom") { request, context in try self.listCustomLists(request, context) }
        router.post("/chats/lists/custom") { _, context in try self.createCustomList(context) }
        router.get("/chats/lists/custom/:listId") { request, context in try self.listCustomMembers(request, context) }
        router.post("/chats/lists/custom/:listId/members") { _, context in try self.addCustomMembers(context) }
        router.delete("/chats/lists/custom/:listId/members/:userUuid") { _, context in
            try self.removeCustomMember(context)
        }
    }

    /// The members of a smart list (nil: no such list).
    static func smartMembers(_ id: String, _ state: FakeState) -> [String]? {
        guard smartLists.contains(where: { $0.id == id }) else { return nil }
        return id == "subscribers" ? state.subscribers.compactMap { $0["uuid"]?.stringValue } : []
    }

    static func unknownSmartList(_ id: String) -> String {
        "smart list id must be one of \(smartLists.map(\.id).joined(separator: ", ")), not '\(id)'"
    }

    /// `GET /chats/lists/smart` → `[{uuid, name, count}]`.
    func listSmartLists(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let lists = state.withLock { state in
            Self.smartLists.map { list -> JSONValue in
                .object([
                    "uuid": .string(list.id), "name": .string(list.name),
                    "count": .int(Self.smartMembers(list.id, state)?.count ?? 0),
                ])
            }
        }
        return FakeHTTP.json(200, .array(lists))
    }

    /// `GET /chats/lists/smart/{id}?page&size`: the members, as users.
    func listSmartMembers(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let id = context.parameters.get("listId") ?? ""
        let (page, size) = try FakeHTTP.page(request)
        let users = try state.withLock { state throws(FakeHTTPError) -> [JSONValue] in
            guard let members = Self.smartMembers(id, state) else { throw .validation([Self.unknownSmartList(id)]) }
            return members.map { fan in
                state.subscriberByUUID[fan] ?? .object(["uuid": .string(fan)])
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(users, page: page, size: size))
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

    /// `POST /chats/lists/custom {name}` → 201 `{uuid, name, count}`; 409 `{message}` when the name is taken.
    func createCustomList(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let body = try FakeHTTP.object(context.body)
        guard let name = body["name"]?.stringValue, (1...100).contains(name.count) else {
            throw .validation(["name must be a string of 1 to 100 characters"])
        }
        let uuid = FakeRandom.uuid()
        try state.withLock { state throws(FakeHTTPError) in
            guard !state.customLists.contains(where: { $0.name == name }) else {
                throw .message(409, "A custom list named '\(name)' already exists")
            }
            state.customLists.append((uuid, name, []))
        }
        return FakeHTTP.json(201, .object(["uuid": .string(uuid), "name": .string(name), "count": .int(0)]))
    }

    func customListIndex(_ context: FakeRequestContext, _ state: FakeState) throws(FakeHTTPError) -> Int {
        let id = context.parameters.get("listId") ?? ""
        guard UUIDText.isUUID(id) else { throw .message(400, "Invalid UUID: \(id)") }
        guard let index = state.customLists.firstIndex(where: { $0.uuid == id }) else {
            throw .message(404, "Custom list not found: \(id)")
        }
        return index
    }

    /// `GET /chats/lists/custom/{uuid}?page&size`: the members, as users (the spec's `get_custom_list_members`).
    func listCustomMembers(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let users = try state.withLock { state throws(FakeHTTPError) -> [JSONValue] in
            state.customLists[try customListIndex(context, state)].members.map { JSONValue.object(["uuid": .string($0)]) }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(users, page: page, size: size))
    }

    /// `POST /chats/lists/custom/{uuid}/members {userUuids}` (at most 100) → 200 `{added, skipped}`: fans already in
    /// the list are skipped, so repeating a call changes nothing.
    func addCustomMembers(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let body = try FakeHTTP.object(context.body)
        guard let list = body["userUuids"]?.arrayValue, !list.isEmpty, list.count <= Self.membersPerCall else {
            throw .validation(["userUuids must be a list of 1 to \(Self.membersPerCall) user uuids"])
        }
        let fans = list.compactMap(\.stringValue)
        guard fans.count == list.count, fans.allSatisfy({ UUIDText.isUUID($0) }) else {
            throw .validation(["userUuids must be a list of 1 to \(Self.membersPerCall) user uuids"])
        }
        let (added, skipped) = try state.withLock { state throws(FakeHTTPError) -> (Int, Int) in
            let index = try customListIndex(context, state)
            var added = 0
            for fan in fans where !state.customLists[index].members.contains(fan) {
                state.customLists[index].members.append(fan)
                added += 1
            }
            return (added, fans.count - added)
        }
        return FakeHTTP.json(200, .object(["added": .int(added), "skipped": .int(skipped)]))
    }

    /// `DELETE /chats/lists/custom/{uuid}/members/{userUuid}` → 204 (also when the fan was not a member).
    func removeCustomMember(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:chat", in: context)
        let fan = try fanUUID(context)
        try state.withLock { state throws(FakeHTTPError) in
            let index = try customListIndex(context, state)
            state.customLists[index].members.removeAll { $0 == fan }
        }
        return FakeHTTP.respond(204, "", type: "application/json")
    }

    /// The fans a mass message reaches, or a validation error naming an unknown list.
    static func recipients(
        _ state: FakeState, included: (smart: [String], custom: [String]), excluded: (smart: [String], custom: [String])
    ) throws(FakeHTTPError) -> [String] {
        func fans(_ lists: (smart: [String], custom: [String])) throws(FakeHTTPError) -> [String] {
            var result: [String] = []
            for id in lists.smart {
                guard let members = smartMembers(id, state) else { throw .validation([unknownSmartList(id)]) }
                result += members
            }
            for id in lists.custom {
                guard let list = state.customLists.first(where: { $0.uuid == id }) else {
                    throw .message(404, "Custom list not found: \(id)")
                }
                result += list.members
            }
            return result
        }
        let out = Set(try fans(excluded))
        var seen: Set<String> = []
        return try fans(included).filter { !out.contains($0) && seen.insert($0).inserted }
    }
}
