import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// What a new user meets in the first hour, through the built binary.
@Suite struct FirstHourTests {
    static let environment = ProcessInfo.processInfo.environment
    static let faces = TestPhotos.facesRun

    /// `make demo` runs `pipelines/demo.yaml` as committed on the bundled stylised images and the photographs the
    /// Makefile's DEMO_PHOTOS names (copied from the test photos): every face is cut away, the picture with no face
    /// falls back to a fixed fraction and is flagged, and the run stops at the review gate.
    @Test(.enabled(if: faces, "needs ELENA_TEST_FACES and ELENA_MODELS_DIR (make test sets them)"))
    func theDemoCutsTheFacesOffRealPhotographs() async throws {
        let root = CommandLineRunner.repositoryRoot()
        let photos = try TestPhotos.faces()
        let makefile = try String(contentsOfFile: root + "/Makefile", encoding: .utf8)
        let listed = try #require(makefile.range(of: "DEMO_PHOTOS := "), "the Makefile names the demo's photographs")
        // The value runs on over lines that end in a backslash.
        var demoPhotos: [String] = []
        for line in makefile[listed.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            demoPhotos += line.split(whereSeparator: \.isWhitespace).map(String.init).filter { $0 != "\\" }
            if !line.hasSuffix("\\") { break }
        }
        #expect(demoPhotos.contains("no_face_coffee.png") && demoPhotos.count >= 4, "\(demoPhotos)")

        let folder = try TemporaryDirectory("elena-demo")
        defer { folder.remove() }
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder("pipelines"), withIntermediateDirectories: true)
        try manager.createDirectory(atPath: folder("examples/demo/photos"), withIntermediateDirectories: true)
        try manager.copyItem(atPath: root + "/pipelines/demo.yaml", toPath: folder("pipelines/demo.yaml"))
        try manager.copyItem(atPath: root + "/examples/demo/images", toPath: folder("examples/demo/images"))
        for name in demoPhotos {
            try manager.copyItem(atPath: photos + "/" + name, toPath: folder("examples/demo/photos/" + name))
        }
        let runner = CommandLineRunner(workingDirectory: folder.path)
        let run = try await runner.run(["pipelines/demo.yaml"])
        #expect(run.exitCode == 3, "stops at the review gate: \(run)")
        #expect(run.standardOutput.contains("1 no face found (photos/no_face_coffee.png)"), "\(run.standardOutput)")
        #expect(manager.fileExists(atPath: folder("demo-library/3_review/demo")), "the library is beside the pipelines folder")

        for name in demoPhotos + ["ComfyUI_00001_.png"] {
            let status = try await runner.run(["status", "pipelines/demo.yaml", "--item", name, "--json"])
            let runs = try JSONValue.parse(status.standardOutput)["runs"]?.arrayValue ?? []
            let crop = try #require(runs.last { $0["stage"]?.stringValue == "crop" }?["output"], "\(name): \(status)")
            let applied = crop["decision"]?["applied"]?.stringValue
            if name.hasPrefix("no_face") {
                #expect(applied == "top_fraction" && crop["faces"]?.intValue == 0, "\(name): \(crop)")
            } else {
                #expect(applied == "no_face" && (crop["faces"]?.intValue ?? 0) >= 1, "\(name): the face is cut: \(crop)")
            }
        }
    }

    /// Every command's path (`auth login`…; the empty path is `elena-run` itself), from the binary's own description
    /// of its commands.
    static func commandPaths() async throws -> [[String]] {
        let dump = try await CommandLineRunner(workingDirectory: NSTemporaryDirectory()).run(["--experimental-dump-help"])
        var paths: [[String]] = []
        func walk(_ command: JSONValue, _ path: [String]) {
            if path != ["help"] { paths.append(path) }
            for sub in command["subcommands"]?.arrayValue ?? [] {
                if let name = sub["commandName"]?.stringValue { walk(sub, path + [name]) }
            }
        }
        walk(try #require(JSONValue.parse(dump.standardOutput)["command"], "\(dump)"), [])
        return paths
    }

    /// Every command's `--help`, rendered at 80 columns as a terminal of that width shows it: no line runs past 80
    /// columns (but the usage line, which argument-parser never wraps); the text above the usage has no line break
    /// in the middle of a sentence (it collides with the automatic wrapping, "review⏎gate"); every command shows an
    /// example that fits on one line; `--jobs` is offered only where images are worked on, and `--library`'s help
    /// speaks of the manifest's `library:` only where there is a manifest.
    @Test func everyCommandsHelpReadsWellAt80Columns() async throws {
        let paths = try await Self.commandPaths()
        #expect(paths.count >= 20 && paths.contains(["auth", "login"]), "\(paths)")
        let narrow = CommandLineRunner(environment: ["COLUMNS": "80"], workingDirectory: NSTemporaryDirectory())
        let wide = CommandLineRunner(environment: ["COLUMNS": "5000"], workingDirectory: NSTemporaryDirectory())
        for path in paths {
            let name = path.isEmpty ? "(no command)" : path.joined(separator: " ")
            let shown = try await narrow.run(["help"] + path)
            #expect(shown.exitCode == 0, "\(name): \(shown)")
            for line in shown.standardOutput.split(separator: "\n") where line.count > 80 && !line.hasPrefix("USAGE:") {
                Issue.record("elena-run \(name) --help: a line of \(line.count) columns at 80: \(line)")
            }
            // The text above the usage, as written (a width that wraps nothing).
            let full = try await wide.run(["help"] + path).standardOutput
            let top = full.components(separatedBy: "\nUSAGE:").first ?? ""
            let lines = top.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (index, line) in lines.enumerated() where index + 1 < lines.count {
                let next = lines[index + 1]
                let prose = { (text: String) in !text.isEmpty && !text.hasPrefix(" ") }
                if prose(line) && prose(next), let last = line.last, !".:!?".contains(last) {
                    Issue.record("elena-run \(name) --help breaks a sentence: '\(line)' ⏎ '\(next)'")
                }
            }
            let examples = lines.filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("elena-run ") }
            #expect(!examples.isEmpty, "elena-run \(name) --help shows no example:\n\(top)")
            for example in examples where example.count > 80 {
                Issue.record("elena-run \(name) --help: an example wider than 80 columns (wrapped there): \(example)")
            }
            let usage = full.components(separatedBy: "\nUSAGE:").dropFirst().first?.prefix { $0 != "\n" } ?? ""
            let worksOnImages = [["run"], ["review"], ["watch"]].contains(path)
            #expect(full.contains("--jobs") == worksOnImages, "elena-run \(name): --jobs offered: \(full.contains("--jobs"))")
            if !usage.contains("<manifest>") {
                #expect(!full.contains("manifest's `library:`"), "elena-run \(name) takes no manifest:\n\(full)")
            }
        }
    }

    /// `doctor`'s database line is a sentence with what to do: a port where nothing listens, a database that does
    /// not exist on a real server, a URL of another kind (it once printed SwiftNIO's dump, then "error: " twice).
    @Test func doctorSaysWhatToDoAboutTheDatabase() async throws {
        let folder = try TemporaryDirectory("elena-doctor-db")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("lib")], workingDirectory: folder.path)
        let port = try #require(LoopbackSocket.freePort())
        let refused = try await runner.run(["doctor", "--offline", "--database", "postgres://u:secret@127.0.0.1:\(port)/db"])
        #expect(refused.exitCode == 1, "\(refused)")
        #expect(refused.standardOutput.contains(
            "FAIL database: cannot connect to postgres://u@127.0.0.1:\(port)/db: the server refuses connections; is PostgreSQL running"),
            "\(refused)")
        #expect(!refused.standardOutput.contains("secret"))
        let scheme = try await runner.run(["doctor", "--offline", "--database", "mysql://x"])
        #expect(scheme.standardOutput.contains("FAIL database: --database / DATABASE_URL: unsupported database URL scheme"), "\(scheme)")
        if let server = Self.environment["ELENA_POSTGRES_URL"], let slash = server.range(of: "/", options: .backwards) {
            let missing = server[..<slash.lowerBound] + "/no_such_database?sslmode=disable"
            let result = try await runner.run(["doctor", "--offline", "--database", String(missing)])
            #expect(result.standardOutput.contains(
                "database \"no_such_database\" does not exist (SQLSTATE 3D000); create that database, or correct its name"),
                "\(result)")
        } else {
            #expect(Self.environment["ELENA_REQUIRE_POSTGRES"] != "1", "ELENA_POSTGRES_URL is required")
        }
    }

    /// A `source.dir` that is not there is shown like every other manifest error: the line and a caret under the
    /// value (it was the one error without them).
    @Test func aMissingSourceFolderIsShownWithItsLineAndCaret() async throws {
        let folder = try TemporaryDirectory("elena-source-dir")
        defer { folder.remove() }
        try folder.write(
            "version: 1\ndrop: x\nlibrary: lib\nsource:\n  dir: nosuch\ncrop: {strategy: top_fraction}\npublish: {to: folder}\n",
            to: "drop.yaml")
        let result = try await CommandLineRunner(workingDirectory: folder.path).run(["drop.yaml"])
        #expect(result.exitCode == 2, "\(result)")
        #expect(
            result.standardError.contains(
                "drop.yaml:5:8: error: 'source.dir' names a folder that does not exist: \(folder("nosuch"))\n      dir: nosuch\n           ^"),
            "\(result)")
    }

    /// A PNG whose colour profile libpng dislikes is cropped like any other, and nothing of libpng's reaches the
    /// terminal (it printed "libpng warning: iCCP: …" without saying which file).
    @Test func aPNGWithABadColourProfilePrintsNoLibpngWarning() async throws {
        let folder = try TemporaryDirectory("elena-iccp")
        defer { folder.remove() }
        try folder.write(try SourceFixtures.pngWithBrokenColourProfile(), to: "src/profile.png")
        try folder.write(
            "version: 1\ndrop: x\nlibrary: lib\nsource: {dir: src}\ncrop: {strategy: top_fraction}\npublish: {to: folder}\n",
            to: "drop.yaml")
        let result = try await CommandLineRunner(workingDirectory: folder.path).run(["drop.yaml"])
        #expect(result.exitCode == 3, "\(result)")
        #expect(!result.standardError.contains("libpng"), "\(result.standardError)")
        #expect(result.standardOutput.contains("1 item waits for review"), "\(result)")
    }

    /// On a pipe, progress counts images (it counted steps: "1/1001" for 200 images) in a line per tenth; `--quiet`
    /// prints one line and nothing else; the duplicates line names the files.
    @Test func progressCountsImagesAndQuietIsOneLine() async throws {
        let folder = try TemporaryDirectory("elena-progress")
        defer { folder.remove() }
        let names = try SourceFixtures.writeImages(into: folder, count: 20)
        try FileManager.default.copyItem(atPath: folder("src/" + names[0]), toPath: folder("src/extra_copy.png"))
        try folder.write(
            "version: 1\ndrop: p\nlibrary: lib\nsource: {dir: src}\ncrop: {strategy: top_fraction}\npublish: {to: folder}\n",
            to: "drop.yaml")
        let runner = CommandLineRunner(workingDirectory: folder.path)
        let run = try await runner.run(["drop.yaml", "--jobs", "1"])
        #expect(run.exitCode == 3, "\(run)")
        let lines = run.standardError.split(separator: "\n").filter { $0.hasPrefix("progress: ") }
        #expect((5...10).contains(lines.count), "a line per tenth of the images: \(run.standardError)")
        for line in lines {
            #expect(line.contains("/20 images (") && line.contains("0%)") && !line.contains("step"), "\(line)")
        }
        #expect(lines.last?.hasPrefix("progress: 20/20 images (100%)") == true, "\(lines)")
        #expect(
            run.standardOutput.contains("1 duplicate file (same bytes) counted once: extra_copy.png (= \(names[0]))"),
            "\(run.standardOutput)")

        try FileManager.default.removeItem(atPath: folder("lib"))
        let quiet = try await runner.run(["drop.yaml", "--quiet"])
        #expect(quiet.exitCode == 3, "\(quiet)")
        #expect(quiet.standardError.isEmpty, "\(quiet.standardError)")
        let said = quiet.standardOutput.split(separator: "\n")
        #expect(said.count == 1 && said[0].hasPrefix("drop p: 20 items, ") && said[0].hasSuffix(", 20 waiting for review"), "\(said)")
    }

    /// Every command line the README shows that works without Fanvue runs through the binary, as written, in a
    /// home of its own: the tour's manifest in pipelines/, its `~/ComfyUI/output/elena` filled with images. Each
    /// exits 0 or 3 (stopped at the review gate); what needs Fanvue (or serves until stopped) is only parsed, by
    /// ReadmeTests.
    @Test(.enabled(if: faces, "needs ELENA_MODELS_DIR (make test sets it): the tour crops by no_face"))
    func theReadmesOfflineCommandsRunAsWritten() async throws {
        let root = CommandLineRunner.repositoryRoot()
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let tour = try #require(
            ReadmeText.blocks(readme).first { $0.language == "yaml" && $0.text.hasPrefix("# pipelines/drop-03.yaml") }?.text)
        let folder = try TemporaryDirectory("elena-readme")
        defer { folder.remove() }
        try folder.write(tour, to: "work/pipelines/drop-03.yaml")
        try SourceFixtures.writeImages(into: folder, subfolder: "home/ComfyUI/output/elena", count: 5)
        let runner = CommandLineRunner(
            environment: ["HOME": folder("home"), "ELENA_CONFIG_DIR": folder("home/.config/elena-run")],
            workingDirectory: folder("work"))
        let needsFanvue: Set<String> = ["send", "unsend", "reschedule", "reconcile", "sync", "auth", "review", "watch"]
        var ran = 0
        for command in ReadmeText.commands(readme) {
            let arguments = Array(command.dropFirst())
            if let verb = arguments.first, needsFanvue.contains(verb) { continue }
            let result = try await runner.run(arguments)
            ran += 1
            #expect([0, 3].contains(result.exitCode), "README: `\(command.joined(separator: " "))`: \(result)")
        }
        #expect(ran >= 5, "the tour's dry runs, plans and run, stats and suggest")
        #expect(FileManager.default.fileExists(atPath: folder("home/elena-content-pipeline/3_review/drop-03")))
    }

    /// The YAML mistakes people make say what to do (the parser names only its rule), and a damaged Fanvue login
    /// file is a sentence (it printed "DecodingError.dataCorrupted: Data was corrupted…").
    @Test func yamlMistakesAndADamagedLoginSayWhatToDo() async throws {
        let folder = try TemporaryDirectory("elena-yaml")
        defer { folder.remove() }
        let runner = CommandLineRunner(
            environment: ["ELENA_CONFIG_DIR": folder("config"), "FANVUE_CLIENT_ID": "id", "FANVUE_CLIENT_SECRET": "secret"],
            workingDirectory: folder.path)
        try folder.write("version: 1\ndrop: x\nsource: {dir: .}\ncrop: {strategy: keep}\npublish:\n  to: folder\n  caption: New: set\n", to: "colon.yaml")
        let colon = try await runner.run(["colon.yaml", "--library", folder("lib")])
        #expect(colon.exitCode == 2 && colon.standardError.contains("(a value holding ': ' must be quoted, e.g. caption: \"New: set\")"), "\(colon)")
        try folder.write("version: 1\ndrop: x\nsource:\n\tdir: .\n", to: "tab.yaml")
        let tab = try await runner.run(["tab.yaml", "--library", folder("lib")])
        #expect(tab.exitCode == 2 && tab.standardError.contains("indentation uses spaces"), "\(tab)")

        try folder.write("garbage", to: "config/fanvue-token.json")
        chmod(folder("config/fanvue-token.json"), 0o600)
        let status = try await runner.run(["auth", "status", "--offline"])
        #expect(status.exitCode == 1, "\(status)")
        #expect(status.standardError.contains("the Fanvue login file \(folder("config/fanvue-token.json")) is damaged"), "\(status)")
        #expect(!status.standardError.contains("DecodingError"), "\(status)")

        // The configuration folder's YAML: one line, located, with what to do (doctor printed "error:" and a dump).
        try folder.write("FANVUE_CLIENT_ID: x\n\tFANVUE_CLIENT_SECRET: y\n", to: "config/config.yaml")
        let doctor = try await runner.run(["doctor", "--offline", "--library", folder("lib")])
        #expect(
            doctor.standardOutput.contains(
                "FAIL fanvue: \(folder("config/config.yaml")):2:1: invalid YAML: found a tab character that violates indentation (YAML is indented with spaces"),
            "\(doctor)")
    }

    /// Output that cannot be written is an error, not a silent success (`schema > /dev/full` exited 0), and
    /// `stats --html` writes only a regular file in a folder that exists (it replaced /dev/full with a file).
    @Test func outputThatCannotBeWrittenIsAnError() async throws {
        let binary = CommandLineRunner.locateBinary()
        let full = try await Subprocess.run("/bin/sh", ["-c", "'\(binary)' schema > /dev/full"])
        #expect(full.status != 0, "\(full)")
        #expect(full.error.contains("could not write the output to standard output"), "\(full.error)")

        let folder = try TemporaryDirectory("elena-html")
        defer { folder.remove() }
        let runner = CommandLineRunner(environment: ["ELENA_LIBRARY": folder("lib")], workingDirectory: folder.path)
        try SourceFixtures.writeImages(into: folder, count: 1)
        try folder.write("version: 1\ndrop: h\nsource: {dir: src}\ncrop: {strategy: top_fraction}\npublish: {to: folder}\n", to: "drop.yaml")
        _ = try await runner.run(["drop.yaml"])
        let device = try await runner.run(["stats", "--html", "/dev/null"])
        #expect(device.exitCode == 2 && device.standardError.contains("is not a regular file"), "\(device)")
        let nowhere = try await runner.run(["stats", "--html", folder("missing/report.html")])
        #expect(nowhere.exitCode == 2 && nowhere.standardError.contains("does not exist"), "\(nowhere)")
        #expect(!FileManager.default.fileExists(atPath: folder("missing")))
    }
}

