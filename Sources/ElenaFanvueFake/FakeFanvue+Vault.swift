import ElenaFakeServer
import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// Vault folders, identified by name (`fanvue-api.md` §3).
extension FakeFanvue {
    func addVaultRoutes(to router: Router<FakeRequestContext>) {
        router.get("/vault/folders") { request, context in try self.listFolders(request, context) }
        router.post("/vault/folders") { _, context in try self.createFolder(context) }
        router.get("/vault/folders/:name") { _, context in try self.getFolder(context) }
        router.patch("/vault/folders/:name") { _, context in try self.renameFolder(context) }
        router.delete("/vault/folders/:name") { _, context in try self.deleteFolder(context) }
        router.get("/vault/folders/:name/media") { request, context in try self.listFolderMedia(request, context) }
        router.post("/vault/folders/:name/media") { _, context in try self.attach(context) }
        router.delete("/vault/folders/:name/media/:mediaUuid") { _, context in try self.detach(context) }
    }

    /// The folder name from the path, percent-decoded.
    func folderName(_ context: FakeRequestContext) -> String {
        let raw = context.parameters.get("name") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    static func folderJSON(_ folder: Folder) -> JSONValue {
        .object([
            "name": .string(folder.name), "createdAt": FakeHTTP.time(folder.createdAt),
            "mediaCount": .int(folder.media.count),
        ])
    }

    static func validFolderName(_ body: JSONValue) throws(FakeHTTPError) -> String {
        guard let name = body["name"]?.stringValue, (1...255).contains(name.count) else {
            throw .validation(["name must be a string of 1 to 255 characters"])
        }
        return name
    }

    func listFolders(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:media", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let items = state.withLock { state in
            state.folderOrder.compactMap { state.folders[$0].map(Self.folderJSON) }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    func createFolder(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let name = try Self.validFolderName(try FakeHTTP.object(context.body))
        let folder = try state.withLock { state throws(FakeHTTPError) -> Folder in
            guard state.folders[name] == nil else { throw .message(409, "A folder named '\(name)' already exists") }
            let folder = Folder(name: name, createdAt: configuration.time.now)
            state.folders[name] = folder
            state.folderOrder.append(name)
            return folder
        }
        return FakeHTTP.json(201, Self.folderJSON(folder))
    }

    func getFolder(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:media", in: context)
        let name = folderName(context)
        guard let folder = state.withLock({ $0.folders[name] }) else { throw .message(404, "Folder not found") }
        return FakeHTTP.json(200, Self.folderJSON(folder))
    }

    func renameFolder(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let name = folderName(context)
        let newName = try Self.validFolderName(try FakeHTTP.object(context.body))
        try state.withLock { state throws(FakeHTTPError) in
            guard var folder = state.folders[name] else { throw .message(404, "Folder not found") }
            guard newName == name || state.folders[newName] == nil else {
                throw .message(409, "A folder named '\(newName)' already exists")
            }
            folder.name = newName
            state.folders[name] = nil
            state.folders[newName] = folder
            state.folderOrder = state.folderOrder.map { $0 == name ? newName : $0 }
        }
        return Response(status: .noContent)
    }

    func deleteFolder(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let name = folderName(context)
        try state.withLock { state throws(FakeHTTPError) in
            guard state.folders.removeValue(forKey: name) != nil else { throw .message(404, "Folder not found") }
            state.folderOrder.removeAll { $0 == name }
        }
        return Response(status: .noContent)
    }

    func listFolderMedia(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:media", in: context)
        let name = folderName(context)
        let (page, size) = try FakeHTTP.page(request)
        let items = try state.withLock { state throws(FakeHTTPError) -> [JSONValue] in
            guard let folder = state.folders[name] else { throw .message(404, "Folder not found") }
            return folder.media.compactMap { uuid in
                state.media[uuid].map {
                    JSONValue.object([
                        "uuid": .string(uuid), "name": .string($0.info.name),
                        "createdAt": FakeHTTP.time($0.info.createdAt), "mediaType": .string($0.info.mediaType),
                    ])
                }
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    /// `POST /vault/folders/{name}/media {"mediaUuids": [...]}` → 201 `{addedCount}` (new ones only).
    func attach(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let name = folderName(context)
        let body = try FakeHTTP.object(context.body)
        guard let list = body["mediaUuids"]?.arrayValue, (1...100).contains(list.count) else {
            throw .validation(["mediaUuids must be a list of 1 to 100 media uuids"])
        }
        let ids = try list.map { value throws(FakeHTTPError) -> String in
            guard let id = value.stringValue, UUIDText.isUUID(id) else {
                throw .message(400, "Invalid UUID: \(value.serialized())")
            }
            return id
        }
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let now = configuration.time.now
        let added = try state.withLock { state throws(FakeHTTPError) -> Int in
            guard var folder = state.folders[name] else { throw .message(404, "Folder not found") }
            try state.requireReady(ids, readyAfterPolls: polls, readyAfterSeconds: seconds, now: now)
            var added = 0
            for id in ids where !folder.media.contains(id) {
                folder.media.append(id)
                added += 1
            }
            state.folders[name] = folder
            return added
        }
        return FakeHTTP.json(201, .object(["addedCount": .int(added)]))
    }

    func detach(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let name = folderName(context)
        let uuid = context.parameters.get("mediaUuid") ?? ""
        try state.withLock { state throws(FakeHTTPError) in
            guard var folder = state.folders[name] else { throw .message(404, "Folder not found") }
            guard folder.media.contains(uuid) else { throw .message(404, "The media is not in this folder") }
            folder.media.removeAll { $0 == uuid }
            state.folders[name] = folder
        }
        return Response(status: .noContent)
    }
}

extension FakeState {
    /// Every id must name a media of this account that is `ready`.
    /// - Throws: 400 `{message}` naming the first that is not.
    mutating func requireReady(
        _ ids: [String], readyAfterPolls: Int, readyAfterSeconds: TimeInterval, now: Date
    ) throws(FakeHTTPError) {
        for id in ids {
            let status = settle(
                id, readyAfterPolls: readyAfterPolls, readyAfterSeconds: readyAfterSeconds, now: now,
                countPoll: false)
            guard let status else { throw .message(400, "Media \(id) not found") }
            guard status == .ready else { throw .message(400, "Media \(id) is not ready (status \(status.rawValue))") }
        }
    }
}
