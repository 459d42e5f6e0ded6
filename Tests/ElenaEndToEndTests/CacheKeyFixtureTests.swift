import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// Cache keys must not move: a library made by an older elena-run (main at 6dd1f43, kept as
/// Tests/Fixtures/cache-keys/library.tar.gz; `make-fixture` beside it says how) is run by this build, and nothing
/// is redone. Any change to a stage's name, version, parameters or inputs, or to how a key is computed, fails here.
@Suite("Cache keys made by an older build", .serialized)
struct CacheKeyFixtureTests {
    /// Where the fixture was made and must be restored: the ledger keeps absolute source paths.
    static let root = "/tmp/elena-run-cache-keys"

    /// Restores the tarball at `root` (the files get new inode numbers, so the first run hashes its sources once).
    static func restore() async throws {
        let tarball = CommandLineRunner.repositoryRoot() + "/Tests/Fixtures/cache-keys/library.tar.gz"
        try? FileManager.default.removeItem(atPath: root)
        let untar = try await Subprocess.run("/usr/bin/tar", ["-C", "/tmp", "-xzf", tarball])
        try #require(untar.status == 0, "tar: \(untar.error)")
    }

    /// The models for the `no_face` drop: ELENA_MODELS_DIR, or the repository's .build/models.
    static var models: String? {
        let environment = ProcessInfo.processInfo.environment
        let folder = environment["ELENA_MODELS_DIR"] ?? CommandLineRunner.repositoryRoot() + "/.build/models"
        return FileManager.default.fileExists(atPath: folder + "/face_landmark.onnx") ? folder : nil
    }

    /// Each stage's counts from `--json`, e.g. ["crop": ["cached": 4]].
    static func stageCounts(_ result: CommandLineRunner.Result) throws -> [String: [String: Int]] {
        let json = try JSONValue.parse(result.standardOutput)
        var counts: [String: [String: Int]] = [:]
        guard case .object(let stages)? = json["stages"] else { throw TestFailure("no stages: \(result)") }
        for stage in stages {
            guard case .object(let words) = stage.value else { continue }
            for word in words { counts[stage.key, default: [:]][word.key] = word.value.intValue }
        }
        return counts
    }

    /// How many source files the drop's last run hashed (its `run.finished` event).
    static func hashed(drop: String) async throws -> Int {
        let query = "SELECT data FROM events WHERE kind = 'run.finished' AND drop_name = '\(drop)' ORDER BY id DESC LIMIT 1;"
        let result = try await Subprocess.run("/usr/bin/sqlite3", [root + "/library/elena.db", query])
        try #require(result.status == 0, "sqlite3: \(result.error)")
        return try #require(try JSONValue.parse(result.output)["hashed"]?.intValue, "no run.finished event: \(result.output)")
    }

    @Test("a library made by main at 6dd1f43 is up to date for this build: only stages added since run, once, and a second run hashes nothing")
    func olderLibraryIsUpToDate() async throws {
        try await Self.restore()
        defer { try? FileManager.default.removeItem(atPath: Self.root) }
        var drops: [(manifest: String, drop: String, expected: [String: [String: Int]])] = [
            (
                "keys-folder.yaml", "keys-folder",
                [
                    "outbox": ["cached": 1], "ingest": ["cached": 4], "detect": ["not needed": 4], "crop": ["cached": 4],
                    "review": ["cached": 2, "skipped": 1, "waiting": 1],
                    "publish": ["cached": 2, "blocked": 1, "skipped": 1],
                ]
            )
        ]
        var environment: [String: String] = [:]
        if let models = Self.models {
            environment["ELENA_MODELS_DIR"] = models
            drops.append(
                (
                    "keys-faces.yaml", "keys-faces",
                    [
                        "outbox": ["cached": 1], "ingest": ["cached": 2], "detect": ["cached": 2], "crop": ["cached": 2],
                        "review": ["waiting": 2], "publish": ["blocked": 2],
                    ]
                ))
        } else {
            #expect(
                ProcessInfo.processInfo.environment["ELENA_REQUIRE_FACES"] != "1",
                "no face models: run `make models` (the no_face drop of the fixture needs them)")
        }
        let runner = CommandLineRunner(environment: environment, workingDirectory: Self.root)
        for (manifest, drop, expected) in drops {
            for pass in 1...2 {
                let result = try await runner.run([manifest, "--json"])
                #expect(result.exitCode == 3, "\(manifest), run \(pass): \(result)")
                // The stages added since (the fingerprints and the drop's groups) run once on the older library;
                // every other stage's key is the one that build wrote.
                let items = expected["ingest"]?["cached"] ?? 0
                var counts = try Self.stageCounts(result)
                #expect(counts.removeValue(forKey: "fingerprint") == [pass == 1 ? "ran" : "cached": items], "\(manifest), run \(pass)")
                #expect(counts.removeValue(forKey: "similar") == [pass == 1 ? "ran" : "cached": 1], "\(manifest), run \(pass)")
                #expect(counts == expected, "\(manifest), run \(pass): \(result.standardOutput)")
                // The restored copies are new files (new inode numbers): the first run hashes the sources once.
                if pass == 2 { #expect(try await Self.hashed(drop: drop) == 0, "\(manifest): the second run hashed files") }
            }
        }
    }
}
