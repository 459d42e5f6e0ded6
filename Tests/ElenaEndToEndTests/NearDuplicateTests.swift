import ElenaCore
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// One picture, many files, through the binary on real photographs: the run groups them, flags a picture that looks
/// like one already published, and `find` names where a copy comes from. The photographs are scikit-image's
/// public-domain samples `make test` fetches (ELENA_TEST_FACES); with ELENA_REQUIRE_FACES=1 their absence fails.
@Suite struct NearDuplicateTests {
    /// A folder drop of `files` (name → bytes) in its own library.
    static func drop(_ folder: TemporaryDirectory, name: String, files: [String: Data]) throws {
        for (file, data) in files { _ = try folder.write(data, to: "\(name)/\(file)") }
        _ = try folder.write(
            """
            version: 1
            drop: \(name)
            source: {dir: \(name)}
            crop: {strategy: top_fraction, top_fraction: 0.3}
            publish: {to: folder}
            """, to: "\(name).yaml")
    }

    static func photographs() throws -> (astronaut: Data, camera: Data, coffee: Data) {
        (try TestPhotos.photograph("astronaut.png"), try TestPhotos.photograph("camera.png"), try TestPhotos.photograph("coffee.png"))
    }

    /// Of two copies of one picture, a person approves one and leaves the other waiting: the run that publishes the
    /// first flags the second, and so does the rerun that does nothing (from the drop's last look, which holds).
    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func aCopyLeftWaitingLooksLikeItsTwinPublishedInTheSameRun() async throws {
        let photos = try Self.photographs()
        let folder = try TemporaryDirectory("elena-near-twin")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("library")], workingDirectory: folder.path)
        try Self.drop(
            folder, name: "first",
            files: ["astronaut.png": photos.astronaut, "astronaut-resaved.jpg": try PictureCopies.copy(of: photos.astronaut, quality: 70)])
        let first = try await runner.run(["first.yaml"])
        #expect(first.exitCode == 3 && !first.standardOutput.contains("looks like"), "nothing decided yet: \(first)")
        let review = folder("library/3_review/first")
        try FileManager.default.createDirectory(atPath: folder("library/4_approved"), withIntermediateDirectories: true)
        let approved = try #require(try FileManager.default.contentsOfDirectory(atPath: review).first { $0.hasPrefix("astronaut.") })
        try FileManager.default.moveItem(atPath: review + "/" + approved, toPath: folder("library/4_approved/\(approved)"))

        let second = try await runner.run(["first.yaml"])
        #expect(second.exitCode == 3, "\(second)")
        #expect(second.standardOutput.contains("publish      1 ran"), "\(second)")
        #expect(
            second.standardOutput.contains(
                "astronaut-resaved.jpg looks like astronaut.png (drop first, published): flagged near_duplicate"), "\(second)")
        // And on the rerun that does nothing, from the last look.
        let third = try await runner.run(["first.yaml"])
        #expect(
            third.standardOutput.contains(
                "astronaut-resaved.jpg looks like astronaut.png (drop first, published): flagged near_duplicate"), "\(third)")

        // That rerun found the rows in line and kept it, with the flag the waiting copy's row holds beyond what the run
        // gives it; the next rerun reads no row, and leaves the copy's row, flag and all, untouched.
        func copyRow() async throws -> (row: ItemRecord?, check: ItemRowState) {
            let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: folder("library/elena.db")), readOnly: true)
            let row = try await store.items(drop: "first").first { $0.originalName == "astronaut-resaved.jpg" }
            let check = try await store.itemRowState(drop: "first")
            await store.close()
            return (row, check)
        }
        let before = try await copyRow()
        let copy = try #require(before.row)
        #expect(copy.flags.contains("near_duplicate") && copy.status == .inReview, "\(copy)")
        let kept = try #require(before.check.last)
        #expect(kept.rowsVersion == before.check.version)
        #expect(kept.parts.values.contains { $0[copy.id]?.contains("near_duplicate") == true }, "\(kept)")
        let fourth = try await runner.run(["first.yaml"])
        #expect(fourth.exitCode == 3 && fourth.standardOutput.contains("flagged near_duplicate"), "\(fourth)")
        let after = try await copyRow()
        #expect(after.row == copy, "the copy's row is as it was, down to when it was last written")
        #expect(after.check == before.check)
    }

    /// A drop's copy waits for review while another drop's twin waits too; once the other drop publishes its twin,
    /// the first drop's next run flags the copy, though nothing of that drop changed: the decided pictures did, and
    /// the database says so (the version its triggers keep), so the last look no longer holds.
    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func aWaitingCopyIsFlaggedOnceAnotherDropPublishesItsTwin() async throws {
        let photos = try Self.photographs()
        let folder = try TemporaryDirectory("elena-near-other")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("library")], workingDirectory: folder.path)
        try Self.drop(folder, name: "first", files: ["astronaut.png": photos.astronaut])
        try Self.drop(
            folder, name: "second",
            files: ["astronaut-resaved.jpg": try PictureCopies.copy(of: photos.astronaut, quality: 70), "camera.png": photos.camera])
        #expect(try await runner.run(["first.yaml"]).exitCode == 3)
        let before = try await runner.run(["second.yaml"])
        #expect(before.exitCode == 3 && !before.standardOutput.contains("looks like"), "nothing decided yet: \(before)")
        // Another drop's unrelated approval changes the version too: the second drop looks again, and finds nothing.
        try Self.drop(folder, name: "third", files: ["coffee.png": photos.coffee])
        #expect(try await runner.run(["third.yaml"]).exitCode == 3)
        try FileManager.default.createDirectory(atPath: folder("library/4_approved"), withIntermediateDirectories: true)
        for drop in ["third", "first"] {
            let review = folder("library/3_review/\(drop)")
            let name = try #require(try FileManager.default.contentsOfDirectory(atPath: review).first)
            try FileManager.default.moveItem(atPath: review + "/" + name, toPath: folder("library/4_approved/\(name)"))
            #expect(try await runner.run(["\(drop).yaml"]).exitCode == 0)
            let rerun = try await runner.run(["second.yaml"])
            #expect(rerun.exitCode == 3, "\(rerun)")
            #expect(rerun.standardOutput.contains("crop         2 cached"), "nothing of the second drop changed: \(rerun)")
            let flagged = "astronaut-resaved.jpg looks like astronaut.png (drop first, published): flagged near_duplicate"
            #expect(rerun.standardOutput.contains(flagged) == (drop == "first"), "after \(drop) published: \(rerun)")
        }
    }

    @Test(.enabled(if: TestPhotos.photographsRun, "needs ELENA_TEST_FACES (make test sets it)"))
    func copiesOfOnePictureAreGroupedFlaggedAndFound() async throws {
        let photos = try Self.photographs()
        let folder = try TemporaryDirectory("elena-near")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("library")], workingDirectory: folder.path)
        // One drop with a photograph, a re-saved copy of it (other bytes, the same picture) and another photograph.
        try Self.drop(
            folder, name: "first",
            files: [
                "astronaut.png": photos.astronaut, "astronaut-resaved.jpg": try PictureCopies.copy(of: photos.astronaut, quality: 70),
                "camera.png": photos.camera,
            ])
        let first = try await runner.run(["first.yaml"])
        #expect(first.exitCode == 3, "\(first)")
        #expect(first.standardOutput.contains("fingerprint  3 ran"), "\(first)")
        #expect(
            first.standardOutput.contains(
                "2 near-identical, one picture: astronaut-resaved.jpg, astronaut.png; keep the best, reject the rest"),
            "\(first)")
        #expect(!first.standardOutput.contains("camera.png;"), "another photograph is not in the group")
        let rerun = try await runner.run(["first.yaml"])
        #expect(rerun.standardOutput.contains("similar      1 cached"), "the groups are compared once: \(rerun)")
        #expect(rerun.standardOutput.contains("2 near-identical, one picture"), "and named on every run until decided")

        // The photograph is published; a later drop brings a brighter, smaller copy of it: flagged, the other named.
        let review = folder("library/3_review/first")
        for name in try FileManager.default.contentsOfDirectory(atPath: review) {
            let target = name.hasPrefix("astronaut.") ? "4_approved" : "rejected"
            try FileManager.default.createDirectory(atPath: folder("library/\(target)"), withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: review + "/" + name, toPath: folder("library/\(target)/\(name)"))
        }
        #expect(try await runner.run(["first.yaml"]).exitCode == 0)
        try Self.drop(
            folder, name: "second",
            files: [
                "astronaut-small.jpg": try PictureCopies.copy(of: photos.astronaut, scale: 0.6, quality: 85, brightness: 20),
                "coffee.png": photos.coffee,
            ])
        let second = try await runner.run(["second.yaml"])
        #expect(second.exitCode == 3, "\(second)")
        #expect(
            second.standardOutput.contains(
                "astronaut-small.jpg looks like astronaut.png (drop first, published): flagged near_duplicate"), "\(second)")
        #expect(!second.standardOutput.contains("coffee.png looks like"), "\(second)")
        let small = Digest.of(try Data(contentsOf: URL(fileURLWithPath: folder("second/astronaut-small.jpg")))).hex
        let status = try await runner.run(["status", "--item", String(small.prefix(12)), "--json"])
        #expect(
            try JSONValue.parse(status.standardOutput)["flags"]?.arrayValue?.contains(.string("near_duplicate")) == true,
            "the flag is in the ledger: \(status)")

        // `find`: a screenshot-like copy (smaller, captioned, JPEG), and a mirrored one, name the published item.
        let leak = try folder.write(
            try PictureCopies.copy(of: photos.astronaut, scale: 0.8, quality: 70, caption: "elena 3:41 PM"), to: "leak.jpg")
        let found = try await runner.run(["find", leak])
        #expect(found.exitCode == 0, "\(found)")
        #expect(found.standardOutput.hasPrefix("\(leak) is astronaut.png (item "), "\(found)")
        #expect(found.standardOutput.contains("in drop first, published"), "\(found)")
        #expect(found.standardOutput.contains("also near: astronaut-small.jpg"), "the later copy is named too: \(found)")
        #expect(found.standardOutput.contains("No fan has received it or a near-duplicate of it."), "\(found)")
        let mirrored = try folder.write(try PictureCopies.copy(of: photos.astronaut, mirror: true), to: "mirrored.jpg")
        #expect(try await runner.run(["find", mirrored]).standardOutput.contains("is astronaut.png (item "))
        let json = try JSONValue.parse(try await runner.run(["find", leak, "--json"]).standardOutput)
        #expect(json["matches"]?.arrayValue?.first?["name"]?.stringValue == "astronaut.png", "\(json)")

        // A picture that is in no drop: exit 1, and the closest is said.
        let stranger = try folder.write(try PictureCopies.copy(of: try TestPhotos.photograph("chelsea.png")), to: "cat.jpg")
        let none = try await runner.run(["find", stranger])
        #expect(none.exitCode == 1, "\(none)")
        #expect(none.standardOutput.contains("no item of the library shows this picture"), "\(none)")
        let broken = try folder.write(Data("not a picture".utf8), to: "broken.jpg")
        let unreadable = try await runner.run(["find", broken])
        #expect(unreadable.exitCode != 0 && unreadable.standardError.contains("broken.jpg"), "\(unreadable)")
    }
}
