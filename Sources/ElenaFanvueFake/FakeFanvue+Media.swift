import ElenaFakeServer
import Crypto
import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// The multipart upload (`fanvue-api.md` §2) and `GET /media/{uuid}`.
extension FakeFanvue {
    static let mediaTypes: Set<String> = ["image", "video", "audio", "document"]
    static let variantTypes = ["main", "thumbnail", "thumbnail_gallery", "blurred"]

    func addMediaRoutes(to router: Router<FakeRequestContext>) {
        router.post("/media/uploads") { _, context in try self.createUpload(context) }
        router.get("/media/uploads/:uploadId/parts/:partNumber/url") { _, context in try self.partURL(context) }
        router.patch("/media/uploads/:uploadId") { _, context in try self.completeUpload(context) }
        router.get("/media/:uuid") { request, context in try self.getMedia(request, context) }
        router.get("/media") { request, context in try self.listMedia(request, context) }
    }

    /// `GET /media?page&size&purchasedBy=<fan>`: the ready media, newest first; with `purchasedBy`, only those the fan
    /// bought, each with `purchasedByFan: true`.
    func listMedia(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:media", in: context)
        let (page, size) = try FakeHTTP.page(request)
        let fan = FakeHTTP.form(request.uri.query ?? "")["purchasedBy"]
        if let fan, !UUIDText.isUUID(fan) { throw .message(400, "Invalid UUID: \(fan)") }
        let items = state.withLock { state in
            state.mediaOrder.reversed().compactMap { uuid -> JSONValue? in
                guard let info = state.media[uuid]?.info, info.status == .ready else { return nil }
                if let fan, !state.purchased(media: uuid, by: fan) { return nil }
                var members: [JSONValue.Member] = [
                    .init("uuid", .string(uuid)), .init("status", .string(info.status.rawValue)),
                    .init("name", .string(info.name)), .init("mediaType", .string(info.mediaType)),
                    .init("createdAt", FakeHTTP.time(info.createdAt)),
                ]
                if fan != nil { members.append(.init("purchasedByFan", .bool(true))) }
                return .object(members)
            }
        }
        return FakeHTTP.json(200, FakeHTTP.paged(items, page: page, size: size))
    }

    /// `POST /media/uploads {name, filename, mediaType}` → `{mediaUuid, uploadId}`.
    func createUpload(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let body = try FakeHTTP.object(context.body)
        var errors: [String] = []
        for field in ["name", "filename"] {
            guard let text = body[field]?.stringValue, (1...255).contains(text.count) else {
                errors.append("\(field) must be a string of 1 to 255 characters")
                continue
            }
        }
        if !(body["mediaType"]?.stringValue.map(Self.mediaTypes.contains) ?? false) {
            errors.append("mediaType must be one of image, video, audio, document")
        }
        guard errors.isEmpty, let name = body["name"]?.stringValue, let filename = body["filename"]?.stringValue,
            let mediaType = body["mediaType"]?.stringValue
        else { throw .validation(errors) }
        let uuid = FakeRandom.uuid()
        let uploadID = FakeRandom.token(bytes: 20)
        let info = Media(
            uuid: uuid, uploadID: uploadID, name: name, filename: filename, mediaType: mediaType, status: .created,
            parts: [:], createdAt: configuration.time.now)
        state.withLock { state in
            state.uploads[uploadID] = uuid
            state.mediaOrder.append(uuid)
            state.media[uuid] = MediaRecord(info: info)
        }
        return FakeHTTP.json(200, .object(["mediaUuid": .string(uuid), "uploadId": .string(uploadID)]))
    }

    /// `GET /media/uploads/{uploadId}/parts/{n}/url` → the presigned storage URL, as `text/plain`.
    func partURL(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let uploadID = context.parameters.get("uploadId") ?? ""
        guard let number = context.parameters.get("partNumber").flatMap({ Int($0) }), (1...10_000).contains(number)
        else { throw .message(400, "partNumber must be an integer from 1 to 10000") }
        let completed = state.withLock { state -> Bool? in
            state.uploads[uploadID].flatMap { state.media[$0]?.completed }
        }
        guard let completed else { throw .message(404, "Upload not found") }
        guard !completed else { throw .message(400, "The upload is already completed") }
        return FakeHTTP.respond(200, partURL(uploadID: uploadID, part: number), type: "text/plain; charset=utf-8")
    }

    /// The presigned URL of one part.
    func partURL(uploadID: String, part: Int) -> String {
        "\(baseURL)/storage/\(uploadID)/\(part)?X-Amz-Signature=\(sign("PUT /storage/\(uploadID)/\(part)"))"
    }

    /// `PATCH /media/uploads/{uploadId} {"parts":[{ETag, PartNumber}]}` → `{"status":"processing"}`.
    func completeUpload(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("write:media", in: context)
        let uploadID = context.parameters.get("uploadId") ?? ""
        let body = try FakeHTTP.object(context.body)
        guard let list = body["parts"]?.arrayValue, !list.isEmpty else {
            throw .validation(["parts must be a non-empty list of {\"ETag\", \"PartNumber\"}"])
        }
        var listed: [(number: Int, etag: String)] = []
        for (index, item) in list.enumerated() {
            guard let number = item["PartNumber"]?.intValue else {
                throw .validation(["parts[\(index)].PartNumber must be an integer"])
            }
            guard let etag = item["ETag"]?.stringValue else {
                throw .validation(["parts[\(index)].ETag is required to complete a multipart upload"])
            }
            listed.append((number, etag))
        }
        let minimum = configuration.minimumPartSize
        let numbers = listed.map(\.number)
        try state.withLock { state throws(FakeHTTPError) in
            guard let uuid = state.uploads[uploadID], var record = state.media[uuid] else {
                throw .message(404, "Upload not found")
            }
            guard !record.completed else { throw .message(400, "The upload is already completed") }
            guard numbers == Array(1...numbers.count) else {
                throw .message(
                    400,
                    "Parts must be numbered 1…n in ascending order without gaps; got "
                        + numbers.map(String.init).joined(separator: ", "))
            }
            var bytes: [UInt8] = []
            for (position, part) in listed.enumerated() {
                guard let stored = record.info.parts[part.number], let data = record.partBytes[part.number] else {
                    throw .message(400, "Part \(part.number) was never uploaded")
                }
                func bare(_ tag: String) -> String { tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                guard bare(part.etag) == bare(stored.etag) else {
                    throw .message(400, "The ETag of part \(part.number) does not match the part stored")
                }
                if position < listed.count - 1 && stored.size < minimum {
                    throw .message(
                        400,
                        "Part \(part.number) has \(stored.size) bytes; every part but the last must have at least "
                            + "\(minimum) bytes")
                }
                bytes.append(contentsOf: data)
            }
            record.completed = true
            record.completedAt = configuration.time.now
            record.partBytes = [:]
            record.bytes = bytes
            record.info.status = .processing
            record.info.size = bytes.count
            record.info.sha256 = FakeRandom.hex(SHA256.hash(data: bytes))
            if record.info.mediaType == "image", let header = try? ImageHeader.read(Data(bytes)) {
                record.info.width = header.width
                record.info.height = header.height
            }
            state.media[uuid] = record
        }
        return FakeHTTP.json(200, .object(["status": .string("processing")]))
    }

    /// `GET /media/{uuid}[?variants=…][&purchasedBy=…]`: `{uuid, status}` until ready, then the full object.
    func getMedia(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:media", in: context)
        let uuid = context.parameters.get("uuid") ?? ""
        guard UUIDText.isUUID(uuid) else { throw .message(400, "Invalid UUID: \(uuid)") }
        let query = FakeHTTP.form(request.uri.query ?? "")
        let variants = (query["variants"] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        if let unknown = variants.first(where: { !Self.variantTypes.contains($0) }) {
            throw .validation([
                "unknown variant '\(unknown)'; variants are \(Self.variantTypes.joined(separator: ", "))"
            ])
        }
        let fan = query["purchasedBy"]
        if let fan, !UUIDText.isUUID(fan) { throw .message(400, "Invalid UUID: \(fan)") }
        let (polls, seconds) = (configuration.readyAfterPolls, configuration.readyAfterSeconds)
        let found = state.withLock { state -> (Media, Bool)? in
            guard
                state.settle(uuid, readyAfterPolls: polls, readyAfterSeconds: seconds, now: configuration.time.now, countPoll: true)
                    != nil, let info = state.media[uuid]?.info
            else { return nil }
            return (info, fan.map { state.purchased(media: uuid, by: $0) } ?? false)
        }
        guard let (info, purchased) = found else { throw .message(404, "Media not found") }
        guard info.status == .ready else {
            return FakeHTTP.json(200, .object(["uuid": .string(uuid), "status": .string(info.status.rawValue)]))
        }
        let variantValues = variants.enumerated().map { position, type in
            JSONValue.object([
                "uuid": .string(Self.derivedUUID(uuid + "/" + type)),
                "variantType": .string(type),
                "displayPosition": .int(position),
                "url": .string(variantURL(uuid: uuid, variant: type)),
                "width": info.width.map(JSONValue.int) ?? .null,
                "height": info.height.map(JSONValue.int) ?? .null,
                "lengthMs": .null,
            ])
        }
        let answer = JSONValue.object([
            "uuid": .string(uuid),
            "status": .string(info.status.rawValue),
            "createdAt": FakeHTTP.time(info.createdAt),
            "url": variants.isEmpty
                ? nil : .string(variantURL(uuid: uuid, variant: variants.contains("main") ? "main" : variants[0])),
            "caption": .null,
            "description": .null,
            "name": .string(info.name),
            "mediaType": .string(info.mediaType),
            "recommendedPrice": .null,
            "variants": .array(variantValues),
            "purchasedByFan": fan == nil ? nil : .bool(purchased),
            "tags": .null,
        ])
        return FakeHTTP.json(200, answer)
    }

    /// A signed download URL of a processed media.
    func variantURL(uuid: String, variant: String) -> String {
        "\(baseURL)/storage/media/\(uuid)/\(variant)?X-Amz-Signature=\(sign("GET /storage/media/\(uuid)/\(variant)"))"
    }

    /// A stable UUID-shaped id derived from `text`.
    static func derivedUUID(_ text: String) -> String {
        let hex = FakeRandom.hex(SHA256.hash(data: Data(text.utf8)).prefix(16))
        let characters = Array(hex)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }
        return groups.joined(separator: "-")
    }
}

extension FakeState {
    /// Whether a seeded earning says `fan` bought a message or post that holds `media`.
    func purchased(media uuid: String, by fan: String) -> Bool {
        earnings.contains { earning in
            guard earning["user"]?["uuid"]?.stringValue == fan else { return false }
            if let message = earning["messageUuid"]?.stringValue {
                return messages.contains {
                    $0["messageUuid"]?.stringValue == message
                        && ($0["mediaUuids"]?.arrayValue ?? []).contains(.string(uuid))
                }
            }
            if let post = earning["postUuid"]?.stringValue {
                return posts.contains {
                    $0["uuid"]?.stringValue == post && ($0["mediaUuids"]?.arrayValue ?? []).contains(.string(uuid))
                }
            }
            return false
        }
    }
}
