import AsyncHTTPClient
import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `crop.strategy: auto` through the `elena-run` binary on real photographs (scripts/fetch-identity-faces: three
/// photos of one person and one of another, from the face_recognition 1.3.0 sdist, public-domain White House
/// photographs, and variants made from them; none is AI-generated). The persona is enrolled from two photos of the
/// person: the person's other photos are kept, the other person's face is cut, a stranger above the person is cut
/// while the person stays, and the person above a stranger is flagged and cut. `make test` sets
/// ELENA_TEST_IDENTITY and ELENA_MODELS_DIR; with ELENA_REQUIRE_FACES=1 their absence is a failure.
@Suite struct IdentityTests {
    static let runs = TestPhotos.identityRun

    /// A folder with the persona's references in refs/ and `sources` in src/, and a manifest cropping by `auto`.
    static func drop(_ sources: [String], references: [String] = ["obama.jpg", "obama2.jpg"], persona extra: String = "")
        throws -> (TemporaryDirectory, CommandLineRunner)
    {
        let photos = try TestPhotos.identity()
        let folder = try TemporaryDirectory("elena-identity")
        for (name, subfolder) in references.map({ ($0, "refs") }) + sources.map({ ($0, "src") }) {
            try FileManager.default.createDirectory(atPath: folder(subfolder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: photos + "/" + name, toPath: folder(subfolder + "/" + name))
        }
        try folder.write(
            """
            version: 1
            drop: persona
            library: \(folder("library"))
            source: {dir: src}
            crop: {strategy: auto}
            persona: {references: [\(references.map { "refs/" + $0 }.joined(separator: ", "))]\(extra)}
            publish: {to: folder}
            """, to: "drop.yaml")
        return (folder, CommandLineRunner(workingDirectory: folder.path))
    }

    /// The crop decision the ledger holds for a source file.
    static func decision(_ file: String, _ runner: CommandLineRunner, manifest: String = "drop.yaml") async throws -> JSONValue {
        let status = try await runner.run(["status", manifest, "--item", file, "--json"])
        #expect(status.exitCode == 0, "\(status)")
        let runs = try JSONValue.parse(status.standardOutput)["runs"]?.arrayValue ?? []
        return try #require(runs.last { $0["stage"]?.stringValue == "crop" }?["output"]?["decision"], "\(status)")
    }

    @Test(.enabled(if: runs, "needs ELENA_TEST_IDENTITY and ELENA_MODELS_DIR (make test sets them)"))
    func herFacesAreKeptOthersCutAndAStrangerAboveHerIsCutAway() async throws {
        let sources = [
            "obama3.jpg", "obama3-mirrored.jpg", "obama3-rotated.jpg", "obama3-small.jpg", "obama3-jpeg10.jpg", "biden.jpg",
            "stranger-above-person.jpg", "person-above-stranger.jpg",
        ]
        let (folder, runner) = try Self.drop(sources)
        defer { folder.remove() }
        let check = try await runner.run(["persona", "check", "drop.yaml"])
        #expect(check.exitCode == 0 && check.standardOutput.contains("persona: 2 of 2 references agree"), "\(check)")

        let run = try await runner.run(["drop.yaml"])
        #expect(run.exitCode == 3, "stops at the review gate: \(run)")
        // Every decision and the persona's enrolment are cached now: a rerun loads neither network nor the image
        // library (pointed nowhere here).
        let rerun = try await runner.withoutImageLibrary.run(["drop.yaml"])
        #expect(rerun.exitCode == 3 && !(rerun.standardOutput + rerun.standardError).contains("could not be loaded"), "\(rerun)")
        for file in sources.prefix(5) {
            let decision = try await Self.decision(file, runner)
            #expect(decision["applied"]?.stringValue == "keep" && decision["line"]?.intValue == 0, "\(file): \(decision)")
            let score = try #require(decision["identity"]?["scores"]?.arrayValue?.first?.doubleValue)
            #expect(score >= 0.55, "\(file) scores \(score)")
        }
        // Someone else: cut below the chin (eyes and nose gone), with the score that decided it.
        let other = try await Self.decision("biden.jpg", runner)
        #expect(other["applied"]?.stringValue == "no_face", "\(other)")
        #expect((other["identity"]?["scores"]?.arrayValue?.first?.doubleValue ?? 1) < 0.363, "\(other)")
        // A stranger above her: cut below the stranger's chin, her face whole below the line.
        let above = try await Self.decision("stranger-above-person.jpg", runner)
        #expect(above["applied"]?.stringValue == "keep" && (above["line"]?.intValue ?? 0) > 0, "\(above)")
        let detection = try JSONValue.parse(
            try await runner.run(["status", "drop.yaml", "--item", "stranger-above-person.jpg", "--json"]).standardOutput)
        let faces = detection["runs"]?.arrayValue?.last { $0["stage"]?.stringValue == "detect" }?["output"]?["faces"]?.arrayValue ?? []
        let scores = above["identity"]?["scores"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        #expect(faces.count == 2 && scores.count == 2, "\(faces.count) faces")
        if let hers = scores.indices.max(by: { scores[$0] < scores[$1] }), faces.count == 2 {
            let top = try #require(faces[hers]["box"]?["y"]?.doubleValue)
            let strangerChin = try #require(faces[1 - hers]["box"].flatMap { box in
                box["y"]?.doubleValue.flatMap { y in box["height"]?.doubleValue.map { y + $0 } }
            })
            let line = Double(above["line"]?.intValue ?? 0)
            #expect(line > strangerChin - 1 && line <= top, "line \(line): the stranger's chin \(strangerChin), her forehead \(top)")
        }
        // Her above a stranger: the stranger cannot be cut away without her: flagged, and cut.
        let below = try await Self.decision("person-above-stranger.jpg", runner)
        #expect(below["applied"]?.stringValue == "no_face", "\(below)")
        #expect(below["flags"]?.arrayValue?.contains(.string("identity_conflict")) == true, "\(below)")
        let text = try await runner.run(["status", "drop.yaml", "--item", "person-above-stranger.jpg"])
        #expect(text.standardOutput.contains("identity"), "status names the scores: \(text)")

        // The review page shows each item's score and what it is, and counts the persona's filters.
        let server = try runner.start(["review", "drop.yaml", "--no-browser", "--no-run"], logPath: folder("review.log"))
        defer { server.kill() }
        let url = try await server.line(after: "Review page: ")
        let page = try #require(url.flatMap { URLComponents(string: $0) }, "no URL printed:\n\(server.log)")
        let token = try #require(page.queryItems?.first { $0.name == "token" }?.value)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(page.port ?? 0)/api/items?limit=100")
        request.headers.add(name: "X-Review-Token", value: token)
        let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await answer.body.collect(upTo: 1 << 22)
        let queue = try JSONValue.parse(String(buffer: body))
        let byName = Dictionary(
            (queue["items"]?.arrayValue ?? []).compactMap { item in item["name"]?.stringValue.map { ($0, item) } },
            uniquingKeysWith: { first, _ in first })
        #expect(byName["obama3.jpg"]?["identity"]?["verdict"]?.stringValue == "hers", "\(byName["obama3.jpg"] ?? .null)")
        #expect(byName["biden.jpg"]?["identity"]?["verdict"]?.stringValue == "not hers")
        #expect((byName["obama3.jpg"]?["identity"]?["score"]?.doubleValue ?? 0) >= 0.55)
        server.kill()

        // A stricter threshold re-decides the crops, not the faces: no detection runs again.
        let manifest = try String(contentsOfFile: folder("drop.yaml"), encoding: .utf8)
        try folder.write(
            manifest.replacingOccurrences(of: "refs/obama2.jpg]}", with: "refs/obama2.jpg], keep_above: 0.7}"), to: "drop.yaml")
        let stricter = try await runner.run(["drop.yaml", "--json"])
        let report = try JSONValue.parse(stricter.standardOutput)
        #expect(report["stages"]?["detect"]?["ran"]?.intValue ?? 0 == 0, "\(stricter.standardOutput)")
        let degraded = try await Self.decision("obama3-jpeg10.jpg", runner)
        #expect(degraded["applied"]?.stringValue == "lips_only", "0.667 is now between 0.363 and 0.7: \(degraded)")
    }

    @Test(.enabled(if: runs, "needs ELENA_TEST_IDENTITY and ELENA_MODELS_DIR (make test sets them)"))
    func aReferenceOfTheWrongPersonIsNamedAndTooFewAgreeingAreRefused() async throws {
        let (folder, runner) = try Self.drop(["obama3.jpg"], references: ["obama.jpg", "obama2.jpg", "biden.jpg"])
        defer { folder.remove() }
        let check = try await runner.run(["persona", "check", "drop.yaml"])
        #expect(check.exitCode == 0, "\(check)")
        #expect(check.standardOutput.contains("biden.jpg  ← disagrees with the others (agrees with 0 of 2"), "\(check)")
        #expect(check.standardOutput.contains("persona: 2 of 3 references agree"), "\(check)")

        let (lonely, lonelyRunner) = try Self.drop(["obama3.jpg"], references: ["obama.jpg", "biden.jpg"])
        defer { lonely.remove() }
        let refused = try await lonelyRunner.run(["persona", "check", "drop.yaml"])
        #expect(refused.exitCode == 2, "\(refused)")
        #expect(refused.standardError.contains("only 0 of 2 persona references agree; at least 2 are needed"), "\(refused)")
        let run = try await lonelyRunner.run(["drop.yaml"])
        #expect(run.exitCode == 2 && run.standardError.contains("persona references agree"), "no drop scores with them: \(run)")
    }

    @Test(.enabled(if: runs, "needs ELENA_TEST_IDENTITY and ELENA_MODELS_DIR (make test sets them)"))
    func aPersonaInTheConfigurationFolderServesEveryDropAndTheManifestsWins() async throws {
        let photos = try TestPhotos.identity()
        let (folder, _) = try Self.drop(["obama3.jpg", "biden.jpg"])
        defer { folder.remove() }
        // The shared persona: the person, in the configuration folder.
        try FileManager.default.createDirectory(atPath: folder("config"), withIntermediateDirectories: true)
        for name in ["obama.jpg", "obama2.jpg"] {
            try FileManager.default.copyItem(atPath: photos + "/" + name, toPath: folder("config/" + name))
        }
        try folder.write("references: [obama.jpg, obama2.jpg]\nkeep_above: 0.6\n", to: "config/persona.yaml")
        let manifest = try String(contentsOfFile: folder("drop.yaml"), encoding: .utf8)
        try folder.write(
            manifest.split(separator: "\n").filter { !$0.hasPrefix("persona:") }.joined(separator: "\n"), to: "shared.yaml")
        let runner = CommandLineRunner(environment: ["ELENA_CONFIG_DIR": folder("config")], workingDirectory: folder.path)
        let doctor = try await runner.run(["doctor", "--offline"])
        #expect(doctor.standardOutput.contains("ok   identity model: sface-2021dec"), "\(doctor)")
        #expect(doctor.standardOutput.contains("ok   persona: 2 references in the configuration folder"), "\(doctor)")
        let check = try await runner.run(["persona", "check", "shared.yaml"])
        #expect(check.exitCode == 0 && check.standardOutput.contains("faces are kept from 0.6"), "\(check)")
        let run = try await runner.run(["shared.yaml"])
        #expect(run.exitCode == 3, "\(run)")
        let decision = try await Self.decision("obama3.jpg", CommandLineRunner(
            environment: ["ELENA_CONFIG_DIR": folder("config")], workingDirectory: folder.path), manifest: "shared.yaml")
        #expect(decision["applied"]?.stringValue == "keep" && decision["identity"]?["keepAbove"]?.doubleValue == 0.6, "\(decision)")
        // The manifest's own persona wins (its default threshold, 0.55).
        let own = try await runner.run(["persona", "check", "drop.yaml"])
        #expect(own.standardOutput.contains("faces are kept from 0.55"), "\(own)")
        // Without either, auto is refused and says where a persona goes.
        let bare = try await CommandLineRunner(workingDirectory: folder.path).run(["shared.yaml"])
        #expect(bare.exitCode == 2 && bare.standardError.contains("persona.yaml"), "\(bare)")
    }
}
