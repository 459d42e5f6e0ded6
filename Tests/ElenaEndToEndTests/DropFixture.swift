import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A source folder of synthetic images, a manifest, a library and a database, driven through the real binary.
struct DropFixture {
    let folder: TemporaryDirectory
    let database: TestDatabase
    let backend: TestBackend
    var drop = "drop-t"

    static func make(_ backend: TestBackend, images: Int = 6) async throws -> DropFixture {
        let folder = try TemporaryDirectory("elena-e2e")
        try SourceFixtures.writeImages(into: folder, count: images)
        let fixture = DropFixture(folder: folder, database: try await TestDatabase.make(backend), backend: backend)
        try fixture.writeManifest()
        return fixture
    }

    var library: String { folder("library") }
    var manifest: String { folder("drop.yaml") }

    func writeManifest(
        strategy: String = "top_fraction", topFraction: Double = 0.30, tags: [String] = ["dress", "portrait"],
        extra: String = ""
    ) throws {
        try folder.write(
            """
            version: 1
            drop: \(drop)
            source:
              dir: src
            crop:
              strategy: \(strategy)
              top_fraction: \(topFraction)
              aspect: "4:5"
            publish:
              to: folder
              vault: elena-ppv
              price: 12.00
              tags: [\(tags.joined(separator: ", "))]
              caption: "New set"
            \(extra)
            """, to: "drop.yaml")
    }

    var runner: CommandLineRunner {
        var environment = ["ELENA_LIBRARY": library, "ELENA_CONFIG_DIR": folder("config")]
        if backend == .postgres { environment["DATABASE_URL"] = database.urlText }
        return CommandLineRunner(environment: environment, workingDirectory: folder.path)
    }

    func run(_ arguments: [String] = []) async throws -> CommandLineRunner.Result {
        try await runner.run(["drop.yaml"] + arguments)
    }

    func elena(_ arguments: [String]) async throws -> CommandLineRunner.Result { try await runner.run(arguments) }

    func files(_ relative: String) -> [String] {
        folder.files(under: "library/" + relative)
    }

    /// Moves review copies whose names start with the given stems into a decision folder (flat, as a person would).
    func decide(_ stems: [String], to decision: String) throws {
        let review = library + "/3_review/" + drop
        for name in try FileManager.default.contentsOfDirectory(atPath: review) where stems.contains(where: name.hasPrefix) {
            try FileManager.default.createDirectory(atPath: library + "/" + decision, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: review + "/" + name, toPath: library + "/" + decision + "/" + name)
        }
    }

    /// File name → SHA-256 of every file under the library.
    func snapshot() throws -> [String: Digest] {
        var result: [String: Digest] = [:]
        for file in folder.files(under: "library") {
            result[file] = Digest.of(try Data(contentsOf: URL(fileURLWithPath: library + "/" + file)))
        }
        return result
    }

    func remove() async {
        folder.remove()
        await database.remove()
    }
}

/// Runs a test body with a fixture, always cleaning up.
func withDrop(_ backend: TestBackend, images: Int = 6, _ body: (DropFixture) async throws -> Void) async throws {
    let fixture = try await DropFixture.make(backend, images: images)
    do {
        try await body(fixture)
    } catch {
        await fixture.remove()
        throw error
    }
    await fixture.remove()
}
