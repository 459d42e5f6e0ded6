import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The foundation issue's acceptance scenarios, on SQLite and on PostgreSQL (through DATABASE_URL).
@Suite struct AcceptanceTests {
    @Test(arguments: TestBackend.available)
    func reviewByFoldersPublishesExactlyTheApprovedCrops(backend: TestBackend) async throws {
        try await withDrop(backend) { drop in
            let first = try await drop.run()
            #expect(first.exitCode == 3, "\(first)")
            #expect(first.standardOutput.contains("6 items wait for review"), "\(first)")
            #expect(drop.files("3_review/\(drop.drop)").count == 6)
            #expect(drop.files("outbox/\(drop.drop)").isEmpty)

            try drop.decide(["ComfyUI_00001_", "ComfyUI_00002_", "ComfyUI_00003_"], to: "4_approved")
            try drop.decide(["ComfyUI_00004_"], to: "rejected")
            let second = try await drop.run()
            #expect(second.exitCode == 3, "two items still wait: \(second)")
            #expect(second.standardOutput.contains("2 items wait for review"), "\(second)")
            let outbox = drop.files("outbox/\(drop.drop)")
            let images = outbox.filter { $0.hasSuffix(".jpg") }
            #expect(images == ["ComfyUI_00001_.jpg", "ComfyUI_00002_.jpg", "ComfyUI_00003_.jpg"])
            #expect(outbox.filter { $0.hasSuffix(".json") }.count == 3)
            for image in images {
                let data = try Data(contentsOf: URL(fileURLWithPath: drop.library + "/outbox/\(drop.drop)/" + image))
                #expect(MetadataInspector.metadata(in: data).isEmpty, "\(image) carries metadata")
                let header = try ImageHeader.read(data)
                #expect(header.format == .jpeg)
                #expect(!header.hasMetadata)
                let sidecar = try JSONValue.parse(
                    String(contentsOfFile: drop.library + "/outbox/\(drop.drop)/" + image + ".json", encoding: .utf8))
                #expect(sidecar["vault"]?.stringValue == "elena-ppv")
                #expect(sidecar["price_cents"]?.intValue == 1200)
                #expect(sidecar["tags"] == .array([.string("dress"), .string("portrait")]))
                #expect(sidecar["caption"]?.stringValue == "New set #AIgenerated")
                #expect(sidecar["sha256"]?.stringValue == Digest.of(data).hex)
                #expect(sidecar.serialized().contains("prompt") == false, "lineage must never leave the machine")
            }
            #expect(drop.files("5_uploaded/\(drop.drop)").count == 3)
            #expect(drop.files("rejected").count == 1)

            let third = try await drop.run()
            #expect(third.exitCode == 3)
            #expect(third.standardOutput.contains("Nothing to redo"), "\(third)")
            for (stage, words) in [("ingest", " 6 cached (up to date)"), ("detect", " 6 not needed"), ("crop", " 6 cached (up to date)")] {
                let line = third.standardOutput.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(stage + " ") }
                #expect(line?.hasSuffix(words) == true, "\(stage): \(third)")
            }
            #expect(drop.files("outbox/\(drop.drop)").count == 6)
        }
    }

    @Test(arguments: TestBackend.available)
    func changingTopFractionRecropsEverythingAndChangingTagsRecropsNothing(backend: TestBackend) async throws {
        try await withDrop(backend, images: 4) { drop in
            #expect(try await drop.run().exitCode == 3)
            let firstCrops = drop.files("2_cropped/\(drop.drop)")
            #expect(firstCrops.count == 4)

            try drop.writeManifest(tags: ["dress", "new-tag"])
            let tagsOnly = try await drop.run(["--json"])
            let tagsReport = try JSONValue.parse(tagsOnly.standardOutput)
            #expect(tagsReport["stages"]?["crop"]?["cached"]?.intValue == 4, "\(tagsOnly)")
            #expect(tagsReport["stages"]?["crop"]?["ran"] == nil, "\(tagsOnly)")
            #expect(drop.files("2_cropped/\(drop.drop)") == firstCrops)

            try drop.writeManifest(topFraction: 0.35, tags: ["dress", "new-tag"])
            let recrop = try await drop.run(["--json"])
            let recropReport = try JSONValue.parse(recrop.standardOutput)
            #expect(recropReport["stages"]?["crop"]?["ran"]?.intValue == 4, "\(recrop)")
            #expect(recropReport["stages"]?["ingest"]?["cached"]?.intValue == 4)
            #expect(drop.files("2_cropped/\(drop.drop)").count == 8, "old crop versions are kept, new ones added")
            #expect(drop.files("3_review/\(drop.drop)").count == 4, "only the new versions wait for review")
        }
    }

    @Test(arguments: TestBackend.available)
    func aDryRunChangesNothingAndListsThePlannedOutboxFiles(backend: TestBackend) async throws {
        try await withDrop(backend, images: 4) { drop in
            #expect(try await drop.run().exitCode == 3)
            try drop.decide(["ComfyUI_00001_", "ComfyUI_00002_"], to: "4_approved")
            try drop.writeManifest(topFraction: 0.32)
            let before = try drop.snapshot()
            let rowsBefore = try await drop.elena(["status", "--json"]).standardOutput

            let dry = try await drop.run(["--dry-run"])
            #expect(dry.exitCode == 3, "\(dry)")
            #expect(dry.standardOutput.contains("Dry run: nothing was changed"))
            #expect(dry.standardOutput.contains("4 would run"), "the crops would be redone: \(dry)")
            for index in 1...4 {
                let file = String(format: "ComfyUI_%05d_.jpg", index)
                #expect(
                    dry.standardOutput.contains("\(file)  vault=elena-ppv  price=12.00  tags=dress,portrait"), "\(file): \(dry)")
            }
            #expect(try drop.snapshot() == before, "a dry run must leave the library byte-identical")
            #expect(try await drop.elena(["status", "--json"]).standardOutput == rowsBefore)

            let plan = try await drop.elena(["plan", "drop.yaml", "--json"])
            let json = try JSONValue.parse(plan.standardOutput)
            #expect(json["dry_run"] == .bool(true))
            #expect(json["outbox_files"]?.arrayValue?.count == 4)
            #expect(try drop.snapshot() == before)
        }
    }

    @Test(arguments: TestBackend.available)
    func brokenFilesFailOneByOneAndTheRestCompletes(backend: TestBackend) async throws {
        try await withDrop(backend, images: 3) { drop in
            try drop.folder.write(try SourceFixtures.truncatedPNG(), to: "src/corrupt.png")
            try drop.folder.write(Data(), to: "src/empty.png")
            try drop.folder.write("hello, this is not a picture\n", to: "src/notes.png")
            let first = try await drop.run()
            #expect(first.exitCode == 1, "\(first)")
            let errors = first.standardError.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(errors.count == 3, "\(first)")
            #expect(errors.contains { $0.contains("corrupt.png") && $0.contains("crop") && $0.contains("decode") })
            #expect(errors.contains { $0.contains("empty.png") && $0.contains("the file is empty (0 bytes)") })
            #expect(errors.contains { $0.contains("notes.png") && $0.contains("looks like text") })
            #expect(drop.files("3_review/\(drop.drop)").count == 3, "the good items reach review")

            let second = try await drop.run(["--json"])
            #expect(second.exitCode == 1)
            let report = try JSONValue.parse(second.standardOutput)
            #expect(report["failures"]?.arrayValue?.count == 3)
            #expect(report["stages"]?["ingest"]?["ran"] == nil, "failed ingests are retried, and fail again")
            #expect(report["stages"]?["ingest"]?["failed"]?.intValue == 2)
            #expect(report["stages"]?["ingest"]?["cached"]?.intValue == 4)
            #expect(report["stages"]?["crop"]?["failed"]?.intValue == 1)
            #expect(report["stages"]?["crop"]?["cached"]?.intValue == 3)
        }
    }

    @Test(arguments: TestBackend.available)
    func aMisspeltKeyExitsTwoWithItsLocationAndASuggestion(backend: TestBackend) async throws {
        try await withDrop(backend, images: 1) { drop in
            try drop.folder.write(
                """
                version: 1
                drop: typo
                source:
                  dir: src
                crop:
                  stratgy: top_fraction
                publish:
                  to: folder
                """, to: "drop.yaml")
            let result = try await drop.run()
            #expect(result.exitCode == 2, "\(result)")
            #expect(result.standardError.contains("drop.yaml:6:3: error: unknown key 'stratgy' in 'crop'"), "\(result)")
            #expect(result.standardError.contains("did you mean 'strategy'?"))
            #expect(!result.standardError.contains("missing required key 'crop.strategy'"), "one error for one typo: \(result)")
            #expect(!FileManager.default.fileExists(atPath: drop.library), "nothing is created for a bad manifest")
        }
    }

    @Test func aMissingSourceFolderIsAManifestError() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            try drop.folder.write(
                "version: 1\ndrop: d\nsource:\n  dir: nowhere\ncrop:\n  strategy: keep\npublish:\n  to: folder\n",
                to: "drop.yaml")
            let result = try await drop.run()
            #expect(result.exitCode == 2)
            #expect(result.standardError.contains("drop.yaml:4:8: error: 'source.dir' names a folder that does not exist"), "\(result)")
        }
    }
}

/// A human's cut line (recrop) replaces the strategy for one item and survives reruns.
@Suite struct RecropTests {
    @Test(arguments: TestBackend.available)
    func aHumanRecropIsKeptByLaterRuns(backend: TestBackend) async throws {
        try await withDrop(backend, images: 3) { drop in
            #expect(try await drop.run().exitCode == 3)
            let id = Digest.of(try Data(contentsOf: URL(fileURLWithPath: drop.folder("src/ComfyUI_00002_.png")))).hex
            let recrop = try await drop.elena(["recrop", String(id.prefix(8)), "--line", "0.5", "drop.yaml"])
            #expect(recrop.exitCode == 3, "\(recrop)")
            #expect(recrop.standardOutput.contains("ComfyUI_00002_.png: cut at 0.5 of the height (human override)"))
            #expect(recrop.standardOutput.contains("crop         1 ran, 2 cached"), "\(recrop)")
            #expect(drop.files("2_cropped/\(drop.drop)").count == 4, "the earlier crop is kept")

            let detail = try await drop.elena(["status", "--item", String(id.prefix(8)), "--json"])
            let json = try JSONValue.parse(detail.standardOutput)
            #expect(json["flags"] == .array([.string("human_override")]), "\(detail)")
            let crops = json["runs"]?.arrayValue?.filter { $0["stage"]?.stringValue == "crop" } ?? []
            #expect(crops.last?["output"]?["decision"]?["line"]?.intValue == 120, "half of 240 px")

            let again = try await drop.run(["--json"])
            let report = try JSONValue.parse(again.standardOutput)
            #expect(report["stages"]?["crop"]?["cached"]?.intValue == 3, "the override is kept: \(again)")

            let cleared = try await drop.elena(["recrop", String(id.prefix(8)), "--clear"])
            #expect(cleared.exitCode == 0, "\(cleared)")
            let back = try JSONValue.parse(try await drop.run(["--json"]).standardOutput)
            #expect(back["stages"]?["crop"]?["cached"]?.intValue == 3, "the first crop is still in the cache")
        }
    }

    @Test func recropRefusesBadArguments() async throws {
        let runner = CommandLineRunner(workingDirectory: NSTemporaryDirectory())
        let noLine = try await runner.run(["recrop", "abcdef12"])
        #expect(noLine.exitCode == 2)
        #expect(noLine.standardError.contains("give --line <fraction> or --clear"))
        let outOfRange = try await runner.run(["recrop", "abcdef12", "--line", "1.2"])
        #expect(outOfRange.exitCode == 2)
        #expect(outOfRange.standardError.contains("--line must be at least 0 and below 0.95"))
    }
}
