import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import ElenaVision
import Foundation

/// Runs drops in-process on real files and a real SQLite database (or, given one, the in-memory ledger), returning
/// the run report.
struct SessionHarness {
    let folder: TemporaryDirectory
    var manifestText: String
    /// The ledger in memory instead of the library's SQLite file (kept across runs).
    var memory: MemoryLedger?
    /// How many items a run takes at a time: their run cache read, their rows projected (the session's default when nil).
    var part: Int?

    init(images: Int, manifest: String? = nil) throws {
        folder = try TemporaryDirectory("elena-engine")
        try SourceFixtures.writeImages(into: folder, count: images)
        manifestText =
            manifest ?? """
            version: 1
            drop: eng
            source:
              dir: src
            crop:
              strategy: top_fraction
            publish:
              to: folder
              vault: v
              price: 5
            """
    }

    var layout: LibraryLayout { LibraryLayout(root: folder("library")) }

    func run(
        dryRun: Bool = false, concurrency: Int = 2, detector: (any FaceDetector)? = nil,
        adding addedStages: [(after: StageName, entry: Pipeline.Entry)] = []
    ) async throws -> RunReport {
        let (manifest, _) = try ManifestDecoder.decode(manifestText, file: "drop.yaml")
        try FileSystem.makeDirectory(layout.root)
        func session(_ ledger: any LibraryLedger) -> DropSession {
            let environment = RunEnvironment(
                layout: layout, cache: ledger, dryRun: dryRun, concurrency: concurrency, reporter: SilentReporter())
            let services = DropServices(
                store: ledger, codec: OpenCVCodec(), detector: detector, outbox: layout.defaultOutbox(drop: manifest.drop))
            var session = DropSession(
                manifest: manifest, manifestFolder: folder.path, home: "/root", environment: environment, services: services)
            session.addedStages = addedStages
            if let part { session.cacheReadPart = part }
            return session
        }
        if let memory { return try await session(memory).run() }
        let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: layout.defaultDatabase), readOnly: dryRun)
        let prepared = session(store)
        return try await withCleanup({ await store.close() }) { try await prepared.run() }
    }

    func withStore<T>(_ body: (SQLRunStore) async throws -> T) async throws -> T {
        let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: layout.defaultDatabase), readOnly: false)
        return try await withCleanup({ await store.close() }) { try await body(store) }
    }

    func move(_ relative: String, to destination: String) throws {
        try FileSystem.move(layout.absolute(relative), to: layout.absolute(destination))
    }

    func reviewFiles(_ folder: ReviewFolder) -> [String] { self.folder.files(under: "library/" + folder.rawValue) }
}
