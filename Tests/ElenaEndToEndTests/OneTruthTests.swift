import AsyncHTTPClient
import ElenaCore
import ElenaTestKit
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

    static func open(_ drop: DropFixture, runFirst: Bool = false) async throws -> ReviewPage {
        let server = try drop.runner.start(
            ["review", "drop.yaml", "--no-browser"] + (runFirst ? [] : ["--no-run"]), logPath: drop.folder("review.log"))
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
        let html: String
        do {
            html = String(decoding: try await get(page), as: UTF8.self)
        } catch {
            // A server whose page could not be read is not left running after the test.
            server.kill()
            throw error
        }
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
        _ = try await post("/api/decisions", .object(["items": .array(ids.map(JSONValue.string)), "decision": .string(decision)]))
    }

    /// A POST with the token and the CSRF value; the answer's JSON.
    func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "X-Review-Token", value: token)
        request.headers.add(name: "X-CSRF-Token", value: csrf)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.serialized()))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let answer = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code == 200 else {
            throw TestFailure("POST \(path): \(response.status.code) \(String(buffer: answer))")
        }
        return try JSONValue.parse(String(buffer: answer))
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

    /// Reproduction 2: a drop with broken files. `status --json` lists the failures with file and reason, keeps
    /// the broken files out of the planned outbox, counts as waiting only the copies in review, and exits like
    /// the run (1: some items failed).
    @Test func statusNamesLastRunsFailuresAndExitsLikeTheRun() async throws {
        try await withDrop(.sqlite, images: 3) { drop in
            try drop.folder.write(Data("garbage".utf8), to: "src/broken.png")
            try drop.folder.write(try SourceFixtures.truncatedPNG(), to: "src/cut.png")
            let run = try await drop.run()
            #expect(run.exitCode == 1, "\(run)")
            #expect(drop.files("3_review/drop-t").count == 3)

            let status = try await drop.elena(["status", "drop.yaml", "--json"])
            #expect(status.exitCode == 1, "status exits like the run: \(status)")
            let report = try JSONValue.parse(status.standardOutput)
            #expect(report["exit_code"]?.intValue == 1)
            let failures = report["failures"]?.arrayValue ?? []
            #expect(Set(failures.compactMap { $0["item"]?.stringValue }) == ["broken.png", "cut.png"], "\(report)")
            #expect(failures.allSatisfy { $0["when"]?.stringValue == "last run" && !($0["error"]?.stringValue ?? "").isEmpty })
            let planned = report["outbox_files"]?.arrayValue?.compactMap { $0["source"]?.stringValue } ?? []
            #expect(planned.sorted() == ["ComfyUI_00001_.png", "ComfyUI_00002_.png", "ComfyUI_00003_.png"], "\(planned)")
            #expect(report["review"]?["waiting"]?.arrayValue?.count == 3, "\(report)")

            let text = try await drop.elena(["status", "drop.yaml"])
            #expect(text.exitCode == 1)
            #expect(text.standardOutput.hasPrefix("Status (from the ledger and the folders; nothing was changed)."), "\(text)")
            #expect(!text.standardOutput.contains("Dry run"), "\(text)")
            #expect(text.standardOutput.contains("2 failed (steps as of the last run; the next run retries them):"), "\(text)")
            #expect(text.standardOutput.contains("  broken.png: ingest: not an image"), "\(text)")
            #expect(text.standardOutput.contains("3 items wait for review in "), "\(text)")
            for command in [["drop.yaml", "--dry-run"], ["plan", "drop.yaml"]] {
                #expect(try await drop.elena(command).exitCode == 1, "\(command) exits like the run")
            }
        }
    }

    /// Reproduction 3: flags are named, with counts and files, in the run summary, in `status` and in JSON.
    @Test func flagsAreNamedWithTheirFilesWherePeopleLook() async throws {
        try await withDrop(.sqlite, images: 3) { drop in
            // 240 px high, 30 % cut: every crop is below min_height.
            try drop.writeManifest(extra: "items:\n  - match: \"*\"\n    crop: {min_height: 500}")
            let run = try await drop.run()
            #expect(run.exitCode == 3, "\(run)")
            let line = "3 flagged for a closer look in review: 3 small crop (ComfyUI_00001_.png, ComfyUI_00002_.png, ComfyUI_00003_.png)"
            #expect(run.standardOutput.contains(line), "\(run)")
            #expect(try await drop.elena(["status", "drop.yaml"]).standardOutput.contains(line))
            let json = try JSONValue.parse(try await drop.run(["--json"]).standardOutput)
            #expect(json["flagged"]?["small_crop"]?.arrayValue?.count == 3, "\(json)")
            let item = try await drop.elena(["status", "--item", "ComfyUI_00002_.png"])
            #expect(item.standardOutput.contains("  flags     small crop"), "\(item)")
        }
    }

    /// Reproduction 5: a decision is said as a decision (not "review 2 ran"), a decision taken back is not "Nothing
    /// to redo", a deleted review copy is said to be restored, a stray file in 4_approved/ is said to be ignored.
    @Test func decisionsRestoredCopiesAndStrayFilesAreSaid() async throws {
        try await withDrop(.sqlite, images: 4) { drop in
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            try drop.decide(["ComfyUI_00002_"], to: "rejected/not-her")
            let review = drop.library + "/3_review/drop-t/"
            let deleted = try #require(try FileManager.default.contentsOfDirectory(atPath: review).first { $0.hasPrefix("ComfyUI_00003_") })
            try FileManager.default.removeItem(atPath: review + deleted)
            try drop.folder.write(Data("not a crop".utf8), to: "library/4_approved/notes.txt")

            let second = try await drop.run()
            #expect(second.exitCode == 3, "\(second)")
            let out = second.standardOutput
            #expect(out.contains("  review       1 published, 1 rejected, 2 waiting"), "\(out)")
            #expect(out.contains(": approved (found in 4_approved/)"), "\(out)")
            #expect(out.contains(": rejected (found in rejected/)"), "\(out)")
            #expect(out.contains("\(deleted): its review copy was missing; put back in 3_review/drop-t/"), "\(out)")
            #expect(out.contains("ignored 4_approved/notes.txt: not a review copy"), "\(out)")
            #expect(FileManager.default.fileExists(atPath: review + deleted), "the copy is back")

            // Taking the rejection back is a change: it is said, and it is not "Nothing to redo".
            let rejected = drop.files("rejected")
            let name = PathText.lastComponent(try #require(rejected.first))
            try FileManager.default.moveItem(atPath: drop.library + "/rejected/" + rejected[0], toPath: review + name)
            let third = try await drop.run()
            #expect(third.standardOutput.contains("\(name): decision taken back (found in 3_review/)"), "\(third)")
            #expect(!third.standardOutput.contains("Nothing to redo"), "\(third)")
            #expect(third.standardOutput.contains("  review       1 published, 3 waiting"), "\(third)")
            let fourth = try await drop.run()
            #expect(fourth.standardOutput.contains("Nothing to redo"), "\(fourth)")
        }
    }

    /// One rule for exit codes: `run`, `--dry-run`, `plan` and `status <manifest>` agree (3 at the review gate),
    /// and a run that cannot start (no face models) exits 4, not 1 ("some items failed").
    @Test func exitCodesAreOneRule() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            for command in [["drop.yaml", "--dry-run"], ["plan", "drop.yaml"], ["status", "drop.yaml"]] {
                #expect(try await drop.elena(command).exitCode == 3, "\(command) before the first run")
            }
            #expect(try await drop.run().exitCode == 3)
            for command in [["drop.yaml", "--dry-run"], ["plan", "drop.yaml"], ["status", "drop.yaml"], ["status", "drop.yaml", "--json"]] {
                let result = try await drop.elena(command)
                #expect(result.exitCode == 3, "\(command): \(result)")
            }
            #expect(try JSONValue.parse(try await drop.elena(["status", "drop.yaml", "--json"]).standardOutput)["exit_code"]?.intValue == 3)

            // No models anywhere the binary looks: a copy of it in a folder of its own, a home without models.
            let bin = drop.folder("bin")
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CommandLineRunner.locateBinary(), toPath: bin + "/elena-run")
            var environment = drop.runner.environment
            environment["HOME"] = drop.folder("home")
            environment["ELENA_MODELS_DIR"] = drop.folder("no-models")
            environment["XDG_DATA_HOME"] = drop.folder("home")
            let lonely = CommandLineRunner(executable: bin + "/elena-run", environment: environment, workingDirectory: drop.folder.path)
            try drop.writeManifest(strategy: "no_face")
            let result = try await lonely.run(["drop.yaml"])
            #expect(result.exitCode == 4, "\(result)")
            #expect(result.standardError.contains("need the face models, which are not installed; run 'make models'"), "\(result)")
        }
    }

    /// Items are found the way people name them: the original's file name, a review copy's name, an id prefix;
    /// a name two items share lists both.
    @Test func itemsAreFoundByTheirFileNames() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            #expect(try await drop.run().exitCode == 3)
            let id = try Self.itemID(drop, "ComfyUI_00001_.png")
            let copy = try #require(drop.files("3_review/drop-t").first { $0.hasPrefix("ComfyUI_00001_.") })
            for name in ["ComfyUI_00001_.png", copy, String(id.prefix(8))] {
                let result = try await drop.elena(["status", "--item", name])
                #expect(result.exitCode == 0, "\(name): \(result)")
                #expect(result.standardOutput.hasPrefix("ComfyUI_00001_.png  (item \(id)"), "\(name): \(result)")
            }
            let recrop = try await drop.elena(["recrop", copy, "--line", "0.4"])
            #expect(recrop.exitCode == 0, "\(recrop)")
            #expect(recrop.standardOutput.contains("ComfyUI_00001_.png: cut at 0.4 of the height"), "\(recrop)")

            // The same file name in a second drop, other bytes: ambiguous, and both are listed.
            _ = try SourceFixtures.writeImages(into: drop.folder, subfolder: "other", count: 1, firstSeed: 5000)
            try drop.folder.write(
                "version: 1\ndrop: other\nsource: {dir: other}\ncrop: {strategy: keep}\npublish: {to: folder}\n", to: "other.yaml")
            #expect(try await drop.elena(["other.yaml"]).exitCode == 3)
            let ambiguous = try await drop.elena(["status", "--item", "ComfyUI_00001_.png"])
            #expect(ambiguous.exitCode == 2, "\(ambiguous)")
            #expect(ambiguous.standardError.contains("'ComfyUI_00001_.png' names 2 items; give one of their ids:"), "\(ambiguous)")
            #expect(ambiguous.standardError.contains(String(id.prefix(12))), "\(ambiguous)")
            let unknown = try await drop.elena(["status", "--item", "nope.png"])
            #expect(unknown.exitCode == 1)
            #expect(unknown.standardError.contains("no item is named 'nope.png'"), "\(unknown)")
        }
    }

    /// `send` says why an item published to a folder cannot be sent; `suggest` says there is nothing on Fanvue.
    @Test func sendAndSuggestSayWhereItemsReallyAre() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            #expect(try await drop.run().exitCode == 0)
            let fan = "7c1b1c1e-1111-4aaa-8bbb-000000000001"
            let send = try await drop.elena(["send", "ComfyUI_00001_.png", "--to", fan, "--dry-run"])
            #expect(send.exitCode != 0)
            #expect(send.standardError.contains("published to a folder, not to Fanvue"), "\(send)")
            let suggest = try await drop.elena(["suggest", "--fan", fan])
            #expect(suggest.standardOutput.contains("no item is on Fanvue yet"), "\(suggest)")
        }
    }

    /// Reproduction 4: an image a second drop shares with the first stays in the first (its decision holds there,
    /// nothing is queued in a folder that does not exist, nothing "ran" on reruns), and every line says so; a drop
    /// name another manifest runs is refused with both paths, unless the user says this file replaces that one.
    @Test func oneImageInTwoDropsAndOneDropNameInTwoManifests() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            #expect(try await drop.run().exitCode == 3)
            try FileManager.default.createDirectory(atPath: drop.folder("other"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: drop.folder("src/ComfyUI_00001_.png"), toPath: drop.folder("other/again.png"))
            try FileManager.default.copyItem(atPath: drop.folder("src/ComfyUI_00002_.png"), toPath: drop.folder("other/waits.png"))
            _ = try SourceFixtures.writeImages(into: drop.folder, subfolder: "other", count: 1, firstSeed: 7000)
            try drop.folder.write(
                "version: 1\ndrop: drop-04\nsource: {dir: other}\ncrop: {strategy: keep}\npublish: {to: folder}\n", to: "other.yaml")
            let second = try await drop.elena(["other.yaml"])
            #expect(second.exitCode == 3, "\(second)")
            #expect(second.standardOutput.contains("drop drop-04: 1 item from"), "\(second)")
            #expect(
                second.standardOutput.contains(
                    "1 image is already in drop drop-t, published there: again.png (a picture is reviewed and published "
                        + "with the first drop that took it, not again here)"), "\(second)")
            #expect(second.standardOutput.contains("1 image is already in drop drop-t, waiting for review there: waits.png"), "\(second)")
            #expect(second.standardOutput.contains("1 item waits for review in \(drop.library)/3_review/drop-04/"), "\(second)")
            #expect(drop.files("3_review/drop-04").count == 1, "only the new image is queued in drop-04")
            #expect(drop.files("3_review/drop-t").count == 1, "drop-t's waiting copy stays where it was")
            let rerun = try await drop.elena(["other.yaml"])
            #expect(rerun.standardOutput.contains("Nothing to redo"), "\(rerun)")
            let json = try JSONValue.parse(try await drop.elena(["status", "other.yaml", "--json"]).standardOutput)
            #expect(json["in_other_drops"]?.arrayValue?.count == 2, "\(json)")
            let library = try await drop.elena(["status"])
            #expect(library.standardOutput.contains("drop-04: 1 item — 1 in review"), "\(library)")

            // The same drop name in another manifest.
            try drop.folder.write(
                "version: 1\ndrop: drop-t\nsource: {dir: other}\ncrop: {strategy: keep}\npublish: {to: folder}\n", to: "copy.yaml")
            let refused = try await drop.elena(["copy.yaml"])
            #expect(refused.exitCode == 2, "\(refused)")
            #expect(
                refused.standardError.contains(
                    "copy.yaml:2:7: error: drop 'drop-t' is already run by another manifest, \(drop.manifest);"), "\(refused)")
            #expect(refused.standardError.contains("run it once with --same-drop"), "\(refused)")
            #expect(try await drop.elena(["copy.yaml", "--dry-run"]).exitCode == 2, "a dry run refuses it too")
            #expect(try await drop.elena(["status", "copy.yaml"]).exitCode == 2)
            #expect(drop.files("3_review/drop-t").count == 1, "nothing of copy.yaml was queued")
            // The same manifest reached through a symbolic link is the same manifest.
            try FileManager.default.createSymbolicLink(atPath: drop.folder("linked"), withDestinationPath: drop.folder.path)
            let linked = try await drop.elena(["linked/drop.yaml"])
            #expect(linked.exitCode == 3, "\(linked)")
            let taken = try await drop.elena(["copy.yaml", "--same-drop"])
            #expect(taken.exitCode == 3, "\(taken)")
            #expect(try await drop.run().exitCode == 2, "now the first manifest is the other one")
        }
    }

    /// Found by the model-based test (seed 1): a source file renamed (same bytes) got a second review copy under
    /// its new name beside the first. One crop has one copy, under the name it was first given.
    @Test func aRenamedSourceKeepsItsOneReviewCopy() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            #expect(try await drop.run().exitCode == 3)
            let before = try Self.reviewCopies(drop)
            try FileManager.default.moveItem(atPath: drop.folder("src/ComfyUI_00001_.png"), toPath: drop.folder("src/renamed.png"))
            #expect(try await drop.run().exitCode == 3)
            let after = try Self.reviewCopies(drop)
            #expect(after == before, "no second copy: \(after.keys.sorted())")
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            #expect(try await drop.run().exitCode == 3)
            let published = drop.files("outbox/drop-t").filter { !$0.hasSuffix(".json") }
            #expect(published == ["renamed.jpg"], "\(published)")

            // Renamed again once published (model test, seed 6): the same bytes stay one image with one sidecar
            // naming it, not a sidecar under the new name for an image that is not there.
            try FileManager.default.moveItem(atPath: drop.folder("src/renamed.png"), toPath: drop.folder("src/again.png"))
            try drop.writeManifest(tags: ["dress", "later"])
            #expect(try await drop.run().exitCode == 3)
            #expect(drop.files("outbox/drop-t").sorted() == ["renamed.jpg", "renamed.jpg.json"], "\(drop.files("outbox/drop-t"))")
            let sidecar = try JSONValue.parse(
                String(contentsOfFile: drop.library + "/outbox/drop-t/renamed.jpg.json", encoding: .utf8))
            #expect(sidecar["file"]?.stringValue == "renamed.jpg")
            #expect(sidecar["tags"] == .array([.string("dress"), .string("later")]), "the sidecar has the new tags")
        }
    }

    /// Found by the model-based test (seed 6): approve, reject, recrop on the page, then undo. The undo belongs to
    /// the crop the decision was made on: the new crop, which nobody has looked at, must stay waiting, not be
    /// approved by an undo.
    @Test func anUndoNeverApprovesACropNobodySaw() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            #expect(try await drop.run().exitCode == 3)
            let page = try await ReviewPage.open(drop)
            do {
                let id = try #require(try await page.items().first?["id"]?.stringValue)
                try await page.decide([id], "approved")
                try await page.decide([id], "rejected")
                let recropped = try await page.post("/api/recrop", .object(["item": .string(id), "line": .double(0.45)]))
                #expect(recropped["item"]?["decision"]?.stringValue == "pending")
                let newCrop = try #require(recropped["item"]?["crop_digest"]?.stringValue)
                let undone = try await page.post("/api/undo", .object([:]))
                #expect(undone["undone"]?.stringValue?.hasPrefix("rejected") == true, "\(undone)")
                let now = try #require(try await page.items().first)
                #expect(now["crop_digest"]?.stringValue == newCrop)
                #expect(now["decision"]?.stringValue == "pending", "an undo approved a crop nobody saw: \(now)")
            } catch {
                await page.close()
                throw error
            }
            await page.close()
            #expect(drop.files("4_approved").isEmpty, "\(drop.files(""))")
            #expect(try await drop.run().exitCode == 3, "nothing is published")
            #expect(drop.files("outbox/drop-t").isEmpty)
        }
    }

    /// Found by the model-based test: after a recrop on the page (a drop run inside the server), SIGTERM killed the
    /// review server outright (143) instead of stopping it. It stops cleanly, and says so.
    @Test func theReviewServerStopsCleanlyAfterARecropOnThePage() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            #expect(try await drop.run().exitCode == 3)
            let page = try await ReviewPage.open(drop)
            do {
                let id = try #require(try await page.items().first?["id"]?.stringValue)
                _ = try await page.post("/api/recrop", .object(["item": .string(id), "line": .double(0.4)]))
            } catch {
                page.server.kill()
                throw error
            }
            kill(page.server.pid, SIGTERM)
            let status = await page.server.wait()
            #expect(status == 0 && !page.server.wasKilled, "exit \(status), killed: \(page.server.wasKilled)\n\(page.server.log)")
            #expect(page.server.log.contains("Review server stopped."), "\(page.server.log)")

            // The same after the drop run `review` makes before it serves (it died on SIGTERM 4 times in 10).
            for _ in 0..<3 {
                try FileManager.default.removeItem(atPath: drop.folder("review.log"))
                let again = try await ReviewPage.open(drop, runFirst: true)
                kill(again.server.pid, SIGTERM)
                let code = await again.server.wait()
                #expect(code == 0 && !again.server.wasKilled, "exit \(code)\n\(again.server.log)")
            }
        }
    }

    /// Found by the model-based test: the outbox after settings flip back. Tags dress,portrait -> dress,later ->
    /// dress,portrait: the sidecar says dress,portrait again (it kept the middle one). keep -> top_fraction (approved
    /// and published) -> keep: the outbox holds the keep crop again, and its sidecar says so.
    @Test func theOutboxDescribesTheCurrentApprovedCropAfterAFlipBack() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            func outbox() throws -> (image: Digest, sidecar: JSONValue) {
                let folder = drop.library + "/outbox/drop-t/"
                return (
                    Digest.of(try Data(contentsOf: URL(fileURLWithPath: folder + "ComfyUI_00001_.jpg"))),
                    try JSONValue.parse(String(contentsOfFile: folder + "ComfyUI_00001_.jpg.json", encoding: .utf8))
                )
            }
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            #expect(try await drop.run().exitCode == 0)
            let kept = try outbox()
            try drop.writeManifest(strategy: "keep", tags: ["dress", "later"])
            #expect(try await drop.run().exitCode == 0)
            #expect(try outbox().sidecar["tags"] == .array([.string("dress"), .string("later")]))
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 0)
            #expect(try outbox().sidecar["tags"] == .array([.string("dress"), .string("portrait")]), "the tags are back")

            try drop.writeManifest(strategy: "top_fraction")
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            #expect(try await drop.run().exitCode == 0)
            let cut = try outbox()
            #expect(cut.image != kept.image, "the top_fraction crop replaced it")
            try drop.writeManifest(strategy: "keep")
            #expect(try await drop.run().exitCode == 0)
            let back = try outbox()
            #expect(back.image == kept.image, "the keep crop, approved and current again, is what the outbox holds")
            #expect(back.sidecar["sha256"]?.stringValue == kept.image.hex)
            #expect(drop.files("outbox/drop-t").count == 2)
        }
    }

    /// Found by the model-based test (seed 122): two settings that cut the same bytes with other flags
    /// (min_height 10, then 500: small_crop), then back to the first (a cache hit on the older run). The page, the
    /// ledger and `status` show the flags of the settings in force, not of the latest run that made those bytes.
    @Test func theSameBytesShowTheFlagsOfTheSettingsInForce() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            func settings(_ minimum: Int) throws {
                try drop.writeManifest(extra: "items:\n  - match: \"*\"\n    crop: {min_height: \(minimum)}")
            }
            try settings(10)
            #expect(try await drop.run().exitCode == 3)
            try settings(500)
            let flagged = try await drop.run()
            #expect(flagged.standardOutput.contains("1 flagged for a closer look in review: 1 small crop"), "\(flagged)")
            try settings(10)
            let back = try await drop.run()
            #expect(!back.standardOutput.contains("flagged"), "\(back)")
            let id = try Self.itemID(drop, "ComfyUI_00001_.png")
            #expect(try await Self.ledger(drop, id)["flags"] == .array([]))
            let page = try await ReviewPage.open(drop)
            let listed: [JSONValue]
            do {
                listed = try await page.items()
            } catch {
                await page.close()
                throw error
            }
            await page.close()
            #expect(listed.first?["flags"] == .array([]), "\(String(describing: listed.first?["flags"]))")
        }
    }
}
