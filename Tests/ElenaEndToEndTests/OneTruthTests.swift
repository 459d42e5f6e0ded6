import AsyncHTTPClient
import ElenaCore
import ElenaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The review page of a drop, served by the binary (`review --no-run`) for one test.
struct ReviewPage {
    let server: RunningCommand
    let base: String
    let token: String
    let csrf: String

    static func open(_ drop: DropFixture) async throws -> ReviewPage {
        let server = try drop.runner.start(["review", "drop.yaml", "--no-browser", "--no-run"], logPath: drop.folder("review.log"))
        var url: String?
        let deadline = Date().addingTimeInterval(30)
        while url == nil, server.isRunning, Date() < deadline {
            url = server.log.split(separator: "\n").first { $0.hasPrefix("Review page: ") }.map { String($0.dropFirst(13)) }
            if url == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let page = url, let components = URLComponents(string: page),
            let token = components.queryItems?.first(where: { $0.name == "token" })?.value, let port = components.port
        else {
            server.kill()
            throw TestFailure("the review page printed no URL:\n\(server.log)")
        }
        let html = String(decoding: try await get(page), as: UTF8.self)
        guard let range = html.range(of: "name=\"csrf-token\" content=\""),
            let end = html[range.upperBound...].firstIndex(of: "\"")
        else {
            server.kill()
            throw TestFailure("no CSRF value in the page")
        }
        return ReviewPage(
            server: server, base: "http://127.0.0.1:\(port)", token: token, csrf: String(html[range.upperBound..<end]))
    }

    static func get(_ url: String, headers: [(String, String)] = []) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status.code == 200 else {
            throw TestFailure("GET \(url): \(response.status.code) \(String(buffer: body))")
        }
        return Data(body.readableBytesView)
    }

    /// `GET /api/items`.
    func items() async throws -> [JSONValue] {
        let data = try await Self.get(base + "/api/items", headers: [("X-Review-Token", token)])
        return try JSONValue.parse(String(decoding: data, as: UTF8.self))["items"]?.arrayValue ?? []
    }

    /// The bytes of a route the queue names (a crop or a thumbnail).
    func bytes(_ path: String) async throws -> Data {
        try await Self.get(base + path, headers: [("X-Review-Token", token)])
    }

    /// `POST /api/decisions`.
    func decide(_ ids: [String], _ decision: String) async throws {
        var request = HTTPClientRequest(url: base + "/api/decisions")
        request.method = .POST
        request.headers.add(name: "X-Review-Token", value: token)
        request.headers.add(name: "X-CSRF-Token", value: csrf)
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = JSONValue.object(["items": .array(ids.map(JSONValue.string)), "decision": .string(decision)])
        request.body = .bytes(ByteBuffer(string: body.serialized()))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200 else {
            throw TestFailure("POST /api/decisions: \(response.status.code) \(String(buffer: answer))")
        }
    }

    func close() async {
        server.interrupt()
        _ = await server.wait()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What a person sees (the review folders, the page, `status`) and what is published are one truth, whatever the
/// manifest went through before: the reproductions of issue 16, each through the built binary.
@Suite struct OneTruthTests {
    /// The review copies of the drop: file name → SHA-256, in every review folder.
    static func reviewCopies(_ drop: DropFixture) throws -> [String: Digest] {
        var copies: [String: Digest] = [:]
        for folder in ["3_review", "4_approved", "5_uploaded", "rejected"] {
            for file in drop.files(folder) {
                copies[PathText.lastComponent(file)] = Digest.of(
                    try Data(contentsOf: URL(fileURLWithPath: drop.library + "/" + folder + "/" + file)))
            }
        }
        return copies
    }

    static func itemID(_ drop: DropFixture, _ name: String) throws -> String {
        Digest.of(try Data(contentsOf: URL(fileURLWithPath: drop.folder("src/" + name)))).hex
    }

    /// The ledger's record of one item, through `status --item --json`.
    static func ledger(_ drop: DropFixture, _ id: String) async throws -> JSONValue {
        let result = try await drop.elena(["status", "--item", id, "--json"])
        guard result.exitCode == 0 else { throw TestFailure("status --item: \(result)") }
        return try JSONValue.parse(result.standardOutput)
    }

    /// keep → top_fraction → keep: the last run is all cache hits, and the ledger must describe the `keep` crops
    /// that are in the review folder, not the `top_fraction` ones it last saw being written.
    @Test func aCacheHitBringsTheLedgerBackToTheCropInReview() async throws {
        try await withDrop(.sqlite, images: 3) { drop in
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 3)
            let keepCopies = try Self.reviewCopies(drop)
            try drop.writeManifest(strategy: "top_fraction")
            #expect(try await drop.run().exitCode == 3)
            #expect(try Self.reviewCopies(drop) != keepCopies, "top_fraction cuts other bytes")
            try drop.writeManifest(strategy: "keep")
            let third = try await drop.run()
            #expect(third.exitCode == 3, "\(third)")
            #expect(try Self.reviewCopies(drop) == keepCopies, "the keep crops are back in review")
            for name in ["ComfyUI_00001_.png", "ComfyUI_00002_.png", "ComfyUI_00003_.png"] {
                let record = try await Self.ledger(drop, try Self.itemID(drop, name))
                let cropped = try #require(record["cropped"]?.stringValue, "\(record)")
                #expect(keepCopies[cropped] != nil, "\(name): the ledger names \(cropped); review holds \(keepCopies.keys.sorted())")
                #expect(record["status"]?.stringValue == "in_review")
            }
        }
    }

    /// The same flip-flop, then the page: it must list and serve the crops that are in review, leave the folder as
    /// it is, and an approval made there must publish exactly the approved bytes on the next run.
    @Test func anApprovalOnThePageAfterASettingsFlipFlopIsPublished() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 3)
            try drop.writeManifest(strategy: "top_fraction")
            #expect(try await drop.run().exitCode == 3)
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 3)
            let before = try Self.reviewCopies(drop)

            let page = try await ReviewPage.open(drop)
            let listed: [JSONValue]
            do {
                listed = try await page.items()
                #expect(listed.count == 2)
                for entry in listed {
                    let file = try #require(entry["file"]?.stringValue)
                    #expect(before[file]?.hex == entry["crop_digest"]?.stringValue, "the page lists \(file) as in review")
                    let served = try await page.bytes(try #require(entry["crop"]?.stringValue))
                    #expect(Digest.of(served) == before[file], "the page serves the crop in review for \(file)")
                }
                #expect(try Self.reviewCopies(drop) == before, "opening the page changes no review copy")
                try await page.decide(listed.compactMap { $0["id"]?.stringValue }, "approved")
            } catch {
                await page.close()
                throw error
            }
            await page.close()

            let published = try await drop.run()
            #expect(published.exitCode == 0, "\(published)")
            let outbox = drop.files("outbox/drop-t").filter { !$0.hasSuffix(".json") }
            #expect(outbox.count == 2, "\(outbox)")
            let publishedBytes = try Set(
                outbox.map { Digest.of(try Data(contentsOf: URL(fileURLWithPath: drop.library + "/outbox/drop-t/" + $0))) })
            #expect(publishedBytes == Set(before.values), "the bytes approved on the page are the bytes published")
        }
    }

    /// A hand recrop, then `recrop --clear` and a run: the automatic crop is back, and the ledger no longer says the
    /// item was recropped by hand.
    @Test func recropClearShowsTheAutomaticCropEverywhere() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            #expect(try await drop.run().exitCode == 3)
            let automatic = try Self.reviewCopies(drop)
            let id = try Self.itemID(drop, "ComfyUI_00001_.png")
            #expect(try await drop.elena(["recrop", String(id.prefix(12)), "--line", "0.5", "drop.yaml"]).exitCode == 3)
            let byHand = try await Self.ledger(drop, id)
            #expect(byHand["flags"]?.arrayValue?.contains(.string("human_override")) == true, "\(byHand)")
            #expect(try Self.reviewCopies(drop) != automatic)

            let cleared = try await drop.elena(["recrop", String(id.prefix(12)), "--clear", "drop.yaml"])
            #expect(cleared.exitCode == 3, "\(cleared)")
            #expect(try Self.reviewCopies(drop) == automatic, "the automatic crop is back in review")
            let record = try await Self.ledger(drop, id)
            #expect(record["flags"]?.arrayValue?.contains(.string("human_override")) == false, "\(record)")
            #expect(automatic[try #require(record["cropped"]?.stringValue)] != nil, "\(record)")
        }
    }
}
