import AsyncHTTPClient
import ElenaCore
import ElenaFakeServer
import ElenaFanvueFake
import ElenaFanvueHarness
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The multipart upload: session, presigned part URLs, storage PUTs with real ETags, completion rules, processing.
@Suite struct FakeFanvueUploadTests {
    static let mebibyte = 1024 * 1024
    /// MD5 of the three parts of `pattern(12 MiB)` cut at 5 MiB, and SHA-256 of the whole (computed with Python's
    /// hashlib, independently of the fake).
    static let partMD5 = [
        "8fbb10a3af59c3ecca3fafe0f15a37c1", "1447df04bd613d0c3e2683a3a4cd9484", "f7a49b8603a2f2ce74d35bed8fc52186",
    ]
    static let wholeSHA256 = "d6508d27493b7b650a9eebcfcc65ceb9d64952d0fe0a44b32bd4a282f3ff5e4d"

    func createUpload(_ h: FakeFanvueHarness, name: String = "set") async throws -> (uuid: String, uploadID: String) {
        let reply = try await h.api(
            .POST, "/media/uploads",
            json: .object(["name": .string(name), "filename": .string("\(name).jpg"), "mediaType": .string("image")]))
        try #require(reply.status == 200, "\(reply.text)")
        return (try #require(reply.json?["mediaUuid"]?.stringValue), try #require(reply.json?["uploadId"]?.stringValue))
    }

    func putPart(_ h: FakeFanvueHarness, _ uploadID: String, _ number: Int, _ bytes: [UInt8]) async throws -> String {
        let url = try await h.api(.GET, "/media/uploads/\(uploadID)/parts/\(number)/url")
        try #require(url.status == 200, "\(url.text)")
        let put = try await h.plain(.PUT, url.text, body: bytes)
        try #require(put.status == 200, "\(put.text)")
        return try #require(put.header("ETag"))
    }

    func complete(_ h: FakeFanvueHarness, _ uploadID: String, _ parts: [(Int, String)]) async throws
        -> FakeFanvueHarness.Reply
    {
        try await h.api(
            .PATCH, "/media/uploads/\(uploadID)",
            json: .object([
                "parts": .array(parts.map { .object(["ETag": .string($1), "PartNumber": .int($0)]) })
            ]))
    }

    @Test func uploadsTwelveMebibytesInThreeParts() async throws {
        try await FakeFanvueHarness.with { h in
            let bytes = FakeFanvueHarness.pattern(12 * Self.mebibyte)
            let (uuid, uploadID) = try await createUpload(h)
            #expect(h.fake.media.first?.status == .created)

            var etags: [String] = []
            for (index, range) in [0..<5, 5..<10, 10..<12].enumerated() {
                let number = index + 1
                let url = try await h.api(.GET, "/media/uploads/\(uploadID)/parts/\(number)/url")
                #expect(url.header("Content-Type")?.hasPrefix("text/plain") == true)
                #expect(url.text.hasPrefix("\(h.fake.baseURL)/storage/\(uploadID)/\(number)?X-Amz-Signature="))
                let chunk = Array(bytes[(range.lowerBound * Self.mebibyte)..<(range.upperBound * Self.mebibyte)])
                let put = try await h.plain(.PUT, url.text, body: chunk)
                #expect(put.status == 200)
                let etag = try #require(put.header("ETag"))
                #expect(etag == "\"\(Self.partMD5[index])\"")
                etags.append(etag)
            }
            let stored = try #require(h.fake.media.first)
            #expect(
                stored.parts.mapValues(\.size) == [1: 5 * Self.mebibyte, 2: 5 * Self.mebibyte, 3: 2 * Self.mebibyte])
            #expect(stored.parts.mapValues(\.etag) == [1: etags[0], 2: etags[1], 3: etags[2]])

            let completed = try await complete(h, uploadID, [(1, etags[0]), (2, etags[1]), (3, etags[2])])
            #expect(completed.status == 200)
            #expect(completed.json == .object(["status": .string("processing")]))

            // readyAfterPolls = 1: one "processing", then the full object.
            let first = try await h.api(.GET, "/media/\(uuid)")
            #expect(first.json == .object(["uuid": .string(uuid), "status": .string("processing")]))
            let second = try await h.api(.GET, "/media/\(uuid)")
            #expect(second.json?["status"]?.stringValue == "ready")
            #expect(second.json?["name"]?.stringValue == "set")
            #expect(second.json?["mediaType"]?.stringValue == "image")
            #expect(second.json?["variants"] == .array([]))
            #expect(second.json?["url"] == nil)

            let media = try #require(h.fake.media.first)
            #expect(media.status == .ready)
            #expect(media.size == 12 * Self.mebibyte)
            #expect(media.sha256 == Self.wholeSHA256)
            #expect(Digest.of(Data(h.fake.uploadedBytes(uuid) ?? [])).description == Self.wholeSHA256)

            // Variants are signed download URLs of what arrived.
            let withVariants = try await h.api(.GET, "/media/\(uuid)?variants=main,thumbnail")
            let variants = try #require(withVariants.json?["variants"]?.arrayValue)
            #expect(variants.compactMap { $0["variantType"]?.stringValue } == ["main", "thumbnail"])
            let mainURL = try #require(variants.first?["url"]?.stringValue)
            let download = try await h.plain(.GET, mainURL)
            #expect(download.status == 200)
            #expect(download.bytes.count == bytes.count)
            #expect(Digest.of(Data(download.bytes)).description == Self.wholeSHA256)

            // The bearer never went to storage.
            let storageCalls = h.fake.calls.filter { $0.path.hasPrefix("/storage/") }
            #expect(storageCalls.count == 4)
            #expect(storageCalls.allSatisfy { !$0.hadBearer && $0.apiVersion == nil })
            #expect(storageCalls.prefix(3).map(\.bodySize) == [5, 5, 2].map { $0 * Self.mebibyte })
        }
    }

    @Test func everyPartButTheLastNeedsFiveMebibytes() async throws {
        try await FakeFanvueHarness.with { h in
            let (_, uploadID) = try await createUpload(h)
            let small = FakeFanvueHarness.pattern(Self.mebibyte)
            let one = try await putPart(h, uploadID, 1, small)
            let two = try await putPart(h, uploadID, 2, small)
            let refused = try await complete(h, uploadID, [(1, one), (2, two)])
            #expect(refused.status == 400)
            #expect(refused.json?["message"]?.stringValue?.contains("at least 5242880 bytes") == true)
            #expect(h.fake.media.first?.status == .created)

            // A single small part is the last part: fine.
            let (_, single) = try await createUpload(h, name: "single")
            let tag = try await putPart(h, single, 1, small)
            #expect(try await complete(h, single, [(1, tag)]).status == 200)
        }
        var relaxed = FakeFanvue.Configuration()
        relaxed.minimumPartSize = 1024
        try await FakeFanvueHarness.with(relaxed) { h in
            let bytes = FakeFanvueHarness.pattern(5000)
            let uuid = try await h.upload(bytes, partSize: 2048)
            let media = try #require(h.fake.media.first { $0.uuid == uuid })
            #expect(media.parts.count == 3)
            #expect(media.status == .ready)
            #expect(h.fake.uploadedBytes(uuid) == bytes)
        }
    }

    @Test func completionChecksPartsAndHappensOnce() async throws {
        var configuration = FakeFanvue.Configuration()
        configuration.minimumPartSize = 4
        try await FakeFanvueHarness.with(configuration) { h in
            let (_, uploadID) = try await createUpload(h)
            let one = try await putPart(h, uploadID, 1, Array("part one".utf8))
            let two = try await putPart(h, uploadID, 2, Array("part two".utf8))
            let three = try await putPart(h, uploadID, 3, Array("part three".utf8))

            let cases: [(String, [(Int, String)])] = [
                ("gap", [(1, one), (3, three)]),
                ("order", [(2, two), (1, one)]),
                ("not from 1", [(2, two), (3, three)]),
                ("wrong etag", [(1, one), (2, one)]),
                ("never uploaded", [(1, one), (2, two), (3, three), (4, three)]),
            ]
            for (label, parts) in cases {
                let reply = try await complete(h, uploadID, parts)
                #expect(reply.status == 400, "\(label): \(reply.text)")
                #expect(reply.json?["message"]?.stringValue != nil, "\(label)")
            }
            let empty = try await h.api(.PATCH, "/media/uploads/\(uploadID)", json: .object(["parts": .array([])]))
            #expect(empty.status == 400)
            #expect(empty.json?["errors"]?.arrayValue?.isEmpty == false)

            // ETags are accepted with or without their quotes, as S3 does.
            let bare = three.replacingOccurrences(of: "\"", with: "")
            #expect(try await complete(h, uploadID, [(1, one), (2, two), (3, bare)]).status == 200)
            let again = try await complete(h, uploadID, [(1, one), (2, two), (3, three)])
            #expect(again.status == 400)
            #expect(again.json?["message"]?.stringValue?.contains("already completed") == true)
            #expect(try await h.api(.GET, "/media/uploads/\(uploadID)/parts/4/url").status == 400)
            #expect(try await h.api(.PATCH, "/media/uploads/nope", json: .object(["parts": .array([])])).status == 400)
            #expect(try await complete(h, "nope", [(1, one)]).status == 404)
        }
    }

    @Test func storageRefusesABearerAndBadSignatures() async throws {
        try await FakeFanvueHarness.with { h in
            let (_, uploadID) = try await createUpload(h)
            let url = try await h.api(.GET, "/media/uploads/\(uploadID)/parts/1/url").text
            let withBearer = try await h.plain(
                .PUT, url, body: [1, 2, 3], headers: [("Authorization", "Bearer \(h.token)")])
            #expect(withBearer.status == 400)
            #expect(withBearer.text.contains("<Code>InvalidArgument</Code>"))

            let forged =
                url.components(separatedBy: "X-Amz-Signature=")[0] + "X-Amz-Signature="
                + String(repeating: "0", count: 64)
            let tampered = try await h.plain(.PUT, forged, body: [1, 2, 3])
            #expect(tampered.status == 403)
            #expect(tampered.text.contains("<Code>SignatureDoesNotMatch</Code>"))
            let otherPart = try await h.plain(.PUT, url.replacingOccurrences(of: "/1?", with: "/2?"), body: [1, 2, 3])
            #expect(otherPart.status == 403)
            let unsigned = try await h.plain(.PUT, "/storage/\(uploadID)/1", body: [1, 2, 3])
            #expect(unsigned.status == 403)
            #expect(h.fake.media.first?.parts.isEmpty == true)

            #expect(try await h.plain(.PUT, url, body: [1, 2, 3]).status == 200)
            let call = try #require(h.fake.calls.last)
            #expect(call.method == "PUT" && call.status == 200 && !call.hadBearer)
        }
    }

    @Test func createValidatesAndPartURLsNeedAKnownUpload() async throws {
        try await FakeFanvueHarness.with { h in
            let missing = try await h.api(.POST, "/media/uploads", json: .object(["name": .string("x")]))
            #expect(missing.status == 400)
            #expect(missing.json?["errors"]?.arrayValue?.count == 2)
            let badType = try await h.api(
                .POST, "/media/uploads",
                json: .object(["name": .string("x"), "filename": .string("x.gif"), "mediaType": .string("gif")]))
            #expect(badType.status == 400)
            #expect(try await h.api(.GET, "/media/uploads/unknown/parts/1/url").status == 404)
            let (_, uploadID) = try await createUpload(h)
            #expect(try await h.api(.GET, "/media/uploads/\(uploadID)/parts/0/url").status == 400)
            #expect(try await h.api(.GET, "/media/uploads/\(uploadID)/parts/10001/url").status == 400)
            #expect(try await h.api(.GET, "/media/\(UUID().uuidString.lowercased())").status == 404)
            #expect(try await h.api(.GET, "/media/not-a-uuid").status == 400)
        }
    }

    @Test func processingCanEndInError() async throws {
        var configuration = FakeFanvue.Configuration()
        configuration.minimumPartSize = 1
        try await FakeFanvueHarness.with(configuration) { h in
            let uuid = try await h.upload([1, 2, 3], partSize: 3, waitUntilReady: false)
            h.fake.markMediaFailed(uuid)
            #expect(try await h.api(.GET, "/media/\(uuid)").json?["status"]?.stringValue == "processing")
            #expect(try await h.api(.GET, "/media/\(uuid)").json?["status"]?.stringValue == "error")
            #expect(h.fake.media.first?.status == .error)
            #expect(try await h.api(.POST, "/vault/folders", json: .object(["name": .string("v")])).status == 201)
            let attach = try await h.api(
                .POST, "/vault/folders/v/media", json: .object(["mediaUuids": .array([.string(uuid)])]))
            #expect(attach.status == 400)
        }
    }

    @Test func readinessCanAlsoWaitForTime() async throws {
        var configuration = FakeFanvue.Configuration()
        configuration.minimumPartSize = 1
        configuration.readyAfterPolls = 0
        configuration.readyAfterSeconds = 6
        let time = FakeTime.manual()
        configuration.time = time
        try await FakeFanvueHarness.with(configuration) { h in
            let uuid = try await h.upload([1, 2, 3], partSize: 3, waitUntilReady: false)
            #expect(try await h.api(.GET, "/media/\(uuid)").json?["status"]?.stringValue == "processing")
            time.advance(by: 5.9)
            #expect(try await h.api(.GET, "/media/\(uuid)").json?["status"]?.stringValue == "processing")
            time.advance(by: 0.2)
            #expect(try await h.api(.GET, "/media/\(uuid)").json?["status"]?.stringValue == "ready")
        }
    }
}
