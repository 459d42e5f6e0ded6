import ElenaCore
import ElenaEngine
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The commands around a run: help, plan --graph, status, schema, doctor, argument errors.
@Suite struct CommandTests {
    @Test(arguments: [[], ["run"], ["plan"], ["status"], ["doctor"], ["schema"], ["send"], ["sync"], ["stats"], ["suggest"], ["gc"]])
    func everyCommandTeaches(command: [String]) async throws {
        let runner = CommandLineRunner(workingDirectory: NSTemporaryDirectory())
        let result = try await runner.run(command + ["--help"])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.standardOutput.contains("USAGE:"))
        #expect(result.standardOutput.count > 200)
    }

    /// `--verbose` works on every command that opens a library: `doctor` (like `watch` and `persona`) took the
    /// library's folders by another way and printed nothing more.
    @Test(.enabled(if: TestBackend.available.contains(.postgres), "needs PostgreSQL: ELENA_POSTGRES_URL (make test sets it)"))
    func doctorVerboseTracesTheLedger() async throws {
        let database = try await TestDatabase.make(.postgres)
        try await withCleanup({ await database.remove() }) {
            let folder = try TemporaryDirectory("elena-doctor-verbose")
            defer { folder.remove() }
            let runner = CommandLineRunner(workingDirectory: folder.path)
            let arguments = ["doctor", "--offline", "--library", folder("library"), "--database", database.urlText]
            let quiet = try await runner.run(arguments)
            #expect(!quiet.standardError.contains("db: >"), "\(quiet)")
            let verbose = try await runner.run(arguments + ["--verbose"])
            #expect(verbose.standardError.contains("db: > SELECT"), "\(verbose)")
            #expect(verbose.standardOutput.contains("database"), "\(verbose)")
        }
    }

    @Test func badArgumentsExitTwo() async throws {
        let runner = CommandLineRunner(workingDirectory: NSTemporaryDirectory())
        let result = try await runner.run(["run", "x.yaml", "--jobs", "0"])
        #expect(result.exitCode == 2, "\(result)")
        #expect(result.standardError.contains("--jobs must be between 1 and 64"))
        let missing = try await runner.run(["no-such-manifest.yaml"])
        #expect(missing.exitCode == 2)
        #expect(missing.standardError.contains("no-such-manifest.yaml: no such manifest file"))
        // A mistyped command, and a folder given for a manifest: one sentence each, with what to do.
        let typo = try await runner.run(["stauts"])
        #expect(typo.exitCode == 2 && typo.standardError.contains("did you mean `elena-run status`?"), "\(typo)")
        let folder = try TemporaryDirectory("elena-folder-arg")
        defer { folder.remove() }
        try folder.write("version: 1\n", to: "drop.yaml")
        let asFolder = try await CommandLineRunner(workingDirectory: folder.path).run([folder.path])
        #expect(asFolder.exitCode == 2, "\(asFolder)")
        #expect(asFolder.standardError.contains("is a folder; give a manifest file: \(folder.path)/drop.yaml"), "\(asFolder)")
        #expect(!asFolder.standardError.contains("NSCocoaErrorDomain"), "\(asFolder)")
        // Item ids are hexadecimal: a path smuggled in as an id never reaches the file system.
        for arguments in [["status", "--item", "../../etc"], ["recrop", "../etc/passwd", "--line", "0.4"], ["send", "../x", "--to", "subscribers"]] {
            let traversal = try await runner.run(arguments)
            #expect(traversal.exitCode == 2, "\(arguments): \(traversal)")
            #expect(traversal.standardError.contains("hexadecimal"), "\(arguments): \(traversal)")
        }
    }

    @Test func planGraphPrintsTheDAG() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            let result = try await drop.elena(["plan", "drop.yaml", "--graph"])
            // The dry run's exit code: 3, every item would stop at the review gate.
            #expect(result.exitCode == 3, "\(result)")
            #expect(result.standardOutput.hasPrefix("digraph \"drop-t\" {"))
            let edges = result.standardOutput.split(separator: "\n").filter { $0.contains("->") }
            // Per item: ingest→detect, ingest→crop, detect→crop, ingest→fingerprint, crop→fingerprint, crop→review,
            // review→publish, outbox→publish, fingerprint→similar.
            #expect(edges.count == 2 * 9, "\(result)")
            #expect(result.standardOutput.contains("\"outbox\" -> \"publish:"))
            #expect(drop.files("").isEmpty, "plan creates nothing")
        }
    }

    @Test func statusShowsTheLedgerAndOneItemsDecision() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            #expect(try await drop.run().exitCode == 3)
            let library = try await drop.elena(["status"])
            #expect(library.exitCode == 0, "\(library)")
            #expect(library.standardOutput.contains("drop-t: 2 items — 2 in review"), "\(library)")
            let items = try await drop.elena(["status", "drop.yaml", "--json"])
            let report = try JSONValue.parse(items.standardOutput)
            #expect(report["waiting_for_review"]?.arrayValue?.count == 2)
            let id = Digest.of(try Data(contentsOf: URL(fileURLWithPath: drop.folder("src/ComfyUI_00001_.png")))).hex
            let detail = try await drop.elena(["status", "--item", String(id.prefix(10))])
            #expect(detail.exitCode == 0, "\(detail)")
            #expect(detail.standardOutput.hasPrefix("ComfyUI_00001_.png  (item \(id), drop drop-t)"), "\(detail)")
            #expect(detail.standardOutput.contains("status    in review — ComfyUI_00001_."), "\(detail)")
            #expect(detail.standardOutput.contains(".jpg: top_fraction, cut at "), "the cut and why: \(detail)")
            #expect(detail.standardOutput.contains("seed 1000"), "lineage is shown: \(detail)")
            #expect(detail.standardOutput.count < 2_000, "a readable summary, not the record: \(detail)")
        }
    }

    /// `gc` removes exactly the records of files that are gone (a crop deleted by hand, a source file removed),
    /// says the ledger's size per item, keeps decisions and the event log, and a later run makes the crop again.
    @Test(arguments: TestBackend.available)
    func gcRemovesOnlyRecordsOfFilesThatAreGone(backend: TestBackend) async throws {
        try await withDrop(backend, images: 3) { drop in
            #expect(try await drop.run().exitCode == 3)
            let url = backend == .postgres ? drop.database.url : DatabaseURL(sqlitePath: drop.library + "/elena.db")
            func counts() async throws -> [String: Int] {
                let store = try await SQLRunStore.open(url, readOnly: true)
                var result: [String: Int] = [:]
                for table in ["stage_runs", "file_stats", "reviews", "events", "items", "run_cache_parts"] {
                    result[table] = try await store.database.query("SELECT COUNT(*) AS n FROM \(table)").first?.int("n")
                }
                await store.close()
                return result
            }
            let before = try await counts()
            let crops = drop.files("2_cropped/drop-t").sorted()
            try #require(crops.count == 3)
            try FileSystem.remove(drop.library + "/2_cropped/drop-t/" + crops[0])
            try FileSystem.remove(drop.folder("src/ComfyUI_00003_.png"))

            let dry = try await drop.elena(["gc", "--dry-run"])
            #expect(dry.exitCode == 0, "\(dry)")
            #expect(dry.standardOutput.contains("for 3 items ("), "\(dry)")
            #expect(dry.standardOutput.contains("per item"), "\(dry)")
            #expect(dry.standardOutput.contains("would remove 1 finished step whose file is gone"), "\(dry)")
            #expect(dry.standardOutput.contains("would remove 1 stat cache entry"), "\(dry)")
            // The run's read of its items made a copy of them before it recorded their steps (outdated since): gc
            // says it and removes it, as removing the step would outdate it anyway.
            #expect(before["run_cache_parts"] == 1)
            #expect(dry.standardOutput.contains("would remove 1 copy of the run cache made before it last changed"), "\(dry)")
            #expect(try await counts() == before, "a dry run removes nothing")

            let done = try await drop.elena(["gc"])
            #expect(done.standardOutput.contains("removed 1 finished step whose file is gone"), "\(done)")
            var expected = before
            expected["stage_runs"]? -= 1
            expected["file_stats"]? -= 1
            expected["events"]? += 1
            expected["run_cache_parts"] = 0
            #expect(done.standardOutput.contains("removed 1 copy of the run cache"), "\(done)")
            #expect(try await counts() == expected, "only the records of the two files that are gone, the outdated copy (and one event)")
            #expect(try await drop.elena(["gc"]).standardOutput.contains("Nothing to remove"))

            // The next run makes the crop again; the item whose source is gone simply is not in the drop now.
            #expect(try await drop.run().exitCode == 3)
            #expect(drop.files("2_cropped/drop-t").contains(crops[0]))
        }
    }

    @Test func schemaCommandPrintsTheCommittedSchema() async throws {
        let runner = CommandLineRunner(workingDirectory: NSTemporaryDirectory())
        let result = try await runner.run(["schema"])
        let committed = try String(
            contentsOfFile: CommandLineRunner.repositoryRoot() + "/schema/manifest.schema.json", encoding: .utf8)
        #expect(result.standardOutput == committed)
    }

    /// Run by its name on PATH through a symlink (`ln -s .build/debug/elena-run ~/bin/`), the binary still finds the
    /// models installed beside its build folder; a copy elsewhere says where it looked.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ELENA_REQUIRE_FACES"] == "1", "needs the face models (make test installs them)"))
    func theBinaryFindsItsModelsThroughASymlinkOnThePath() async throws {
        let folder = try TemporaryDirectory("elena-path")
        defer { folder.remove() }
        let binary = CommandLineRunner.locateBinary()
        try FileManager.default.createDirectory(atPath: folder("bin"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder("bin/elena-run"), withDestinationPath: binary)
        let environment = [
            "PATH": folder("bin") + ":/usr/bin:/bin", "ELENA_MODELS_DIR": "", "XDG_DATA_HOME": folder("data"),
            "ELENA_LIBRARY": folder("library"), "ELENA_CONFIG_DIR": folder("config"),
        ]
        let linked = try await Subprocess.run("/bin/sh", ["-c", "elena-run doctor --offline"], environment: environment)
        #expect(linked.output.contains("ok   face models: "), "\(linked.output)\n\(linked.error)")

        try FileManager.default.removeItem(atPath: folder("bin/elena-run"))
        try FileManager.default.copyItem(atPath: binary, toPath: folder("bin/elena-run"))
        let copied = try await Subprocess.run("/bin/sh", ["-c", "elena-run doctor --offline"], environment: environment)
        #expect(copied.output.contains("note face models: not installed"), "\(copied.output)")
        #expect(copied.output.contains("looked in " + folder("data") + "/elena-run/models"), "\(copied.output)")
    }

    /// A rule of `items:` that matches no file is a warning with where it is and the nearest file names (the
    /// README's own example once matched nothing on ComfyUI's real names).
    @Test func anItemsRuleThatMatchesNoFileIsAWarning() async throws {
        let folder = try TemporaryDirectory("elena-rules")
        defer { folder.remove() }
        try SourceFixtures.writeImages(into: folder, count: 2)
        try folder.write(
            """
            version: 1
            drop: rules
            library: library
            source: {dir: src}
            crop: {strategy: top_fraction}
            publish: {to: folder}
            items:
              - match: "ComfyUI_00001_*"
                price: 20.00
              - match: "ComfyUI_0004*"
                price: 30.00
            """, to: "drop.yaml")
        let runner = CommandLineRunner(workingDirectory: folder.path)
        let run = try await runner.run(["drop.yaml", "--dry-run"])
        #expect(
            run.standardOutput.contains(
                "drop.yaml:10:12: warning: items[1].match 'ComfyUI_0004*' matches no file; nearest: ComfyUI_00001_.png"),
            "\(run)")
        #expect(!run.standardOutput.contains("items[0].match"), "the rule that matches is not warned about: \(run)")
        let json = try JSONValue.parse(try await runner.run(["drop.yaml", "--dry-run", "--json"]).standardOutput)
        #expect(json["unmatched_rules"]?.arrayValue?.first?["match"]?.stringValue == "ComfyUI_0004*")
    }

    /// A review port already in use is one sentence, said before the drop runs (it used to run the whole drop and
    /// then print SwiftNIO's bind error).
    @Test func aReviewPortInUseIsSaidBeforeTheDropRuns() async throws {
        let folder = try TemporaryDirectory("elena-port")
        defer { folder.remove() }
        try SourceFixtures.writeImages(into: folder, count: 1)
        try folder.write(
            "version: 1\ndrop: port\nlibrary: library\nsource: {dir: src}\ncrop: {strategy: top_fraction}\npublish: {to: folder}\n",
            to: "drop.yaml")
        // Something listening on a port of 127.0.0.1.
        let listener = try LoopbackSocket.bind(listening: true).get()
        let port = listener.port
        let result = try await CommandLineRunner(workingDirectory: folder.path).run(
            ["review", "drop.yaml", "--port", String(port), "--no-browser"])
        #expect(result.exitCode == 2, "\(result)")
        #expect(result.standardError.contains("port \(port) on 127.0.0.1 is in use"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: folder("library")), "the drop did not run first")
        withExtendedLifetime(listener) {}
    }

    /// The image library (libElenaOpenCV.so, OpenCV behind it) is loaded only when an image is read: a rerun whose
    /// steps are all cached runs without it, and a new image then fails with one line that says what is missing and
    /// what to do, while the rest of the drop stays as it was; with the library back, the next run takes the image up.
    @Test func aRunThatReadsNoImageNeedsNoImageLibrary() async throws {
        try await withDrop(.sqlite, images: 3) { fixture in
            let first = try await fixture.run()
            #expect(first.exitCode == 3, "\(first)")
            let without = fixture.runner.withoutImageLibrary
            let rerun = try await without.run(["drop.yaml"])
            #expect(rerun.exitCode == 3, "a rerun with every step cached reads no image: \(rerun)")

            try SourceFixtures.writeImages(into: fixture.folder, subfolder: "more", count: 1, firstSeed: 4000)
            try FileManager.default.moveItem(atPath: fixture.folder("more/ComfyUI_00001_.png"), toPath: fixture.folder("src/new.png"))
            let missing = try await without.run(["drop.yaml"])
            #expect(missing.exitCode == 1, "\(missing)")
            let said = missing.standardOutput + missing.standardError
            #expect(said.contains("new.png"), "the failure names the file: \(missing)")
            #expect(said.contains("could not be loaded"), "\(missing)")
            #expect(said.contains("set ELENA_IMAGE_LIBRARY"), "and says what to do: \(missing)")
            #expect(fixture.files("3_review/" + fixture.drop).count == 3, "the three crops in review stay: \(fixture.files(""))")

            let again = try await fixture.run()
            #expect(again.exitCode == 3, "\(again)")
            #expect(fixture.files("3_review/" + fixture.drop).count == 4, "\(fixture.files(""))")
        }
    }

    /// With a face strategy too: the face networks are loaded when a face is first looked for, so a rerun whose
    /// detections are all cached loads neither them nor the image library.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ELENA_REQUIRE_FACES"] == "1", "needs the face models (make test installs them)"))
    func aCachedRerunWithAFaceStrategyLoadsNoNetwork() async throws {
        try await withDrop(.sqlite, images: 2) { fixture in
            try fixture.writeManifest(strategy: "no_face")
            let first = try await fixture.run()
            #expect(first.exitCode == 3, "\(first)")
            let without = fixture.runner.withoutImageLibrary
            let rerun = try await without.run(["drop.yaml"])
            #expect(rerun.exitCode == 3, "\(rerun)")
            #expect(!(rerun.standardOutput + rerun.standardError).contains("could not be loaded"), "\(rerun)")
        }
    }

    @Test func doctorChecksOpenCVAndTheDatabase() async throws {
        let folder = try TemporaryDirectory("elena-doctor")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("lib")], workingDirectory: folder.path)
        let result = try await runner.run(["doctor"])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.standardOutput.contains("ok   opencv: opencv 4."))
        #expect(result.standardOutput.contains("ok   database:"))
    }

    @Test func everyBundledManifestDecodesAndPlans() async throws {
        let root = CommandLineRunner.repositoryRoot()
        let runner = CommandLineRunner(workingDirectory: root)
        var manifests = try FileManager.default.contentsOfDirectory(atPath: root + "/pipelines")
            .filter { $0.hasSuffix(".yaml") }.map { "pipelines/" + $0 }
        if let enumerator = FileManager.default.enumerator(atPath: root + "/examples") {
            while let path = enumerator.nextObject() as? String {
                if path.hasSuffix(".yaml") { manifests.append("examples/" + path) }
            }
        }
        #expect(!manifests.isEmpty)
        let library = try TemporaryDirectory("elena-plan")
        defer { library.remove() }
        for manifest in manifests {
            let text = try String(contentsOfFile: root + "/" + manifest, encoding: .utf8)
            let (decoded, _) = try ManifestDecoder.decode(text, file: manifest)
            let source = PathText.resolve(decoded.source.dir, relativeTo: PathText.directory(of: root + "/" + manifest), home: "/nonexistent-home")
            if FileManager.default.fileExists(atPath: source) {
                let result = try await runner.run(["plan", manifest, "--library", library.path])
                // 0 when nothing would wait (no image yet), 3 when some would stop at the review gate.
                #expect(result.exitCode == 0 || result.exitCode == 3, "\(manifest): \(result)")
            }
        }
        #expect(library.files().isEmpty, "planning writes nothing")
    }
}
