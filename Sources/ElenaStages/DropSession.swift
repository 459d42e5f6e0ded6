public import ElenaCore
public import ElenaEngine
import Foundation

/// The source folder named by a manifest does not exist (or is not a folder).
public struct MissingSourceError: Error, Sendable, CustomStringConvertible {
    /// A compiler-style diagnostic pointing at `source.dir`.
    public var diagnostic: Diagnostic
    /// The diagnostic.
    public var description: String { diagnostic.description }
}

/// One run of one manifest against one library: discovery, planning and execution, wired to real stages.
public struct DropSession: Sendable {
    /// The decoded manifest.
    public var manifest: Manifest
    /// The manifest's absolute folder (relative paths in it are resolved against this).
    public var manifestFolder: String
    /// The user's home folder, for `~`.
    public var home: String
    /// Services and options.
    public var environment: RunEnvironment
    /// The upload stage (its part size and polling are tuned by the caller).
    public var uploadStage = UploadStage()

    /// Creates a session.
    public init(manifest: Manifest, manifestFolder: String, home: String, environment: RunEnvironment) {
        self.manifest = manifest
        self.manifestFolder = manifestFolder
        self.home = home
        self.environment = environment
    }

    /// The absolute source folder.
    public var sourceFolder: String { Self.sourceFolder(for: manifest, manifestFolder: manifestFolder, home: home) }

    /// The absolute source folder a manifest names.
    public static func sourceFolder(for manifest: Manifest, manifestFolder: String, home: String) -> String {
        PathText.resolve(manifest.source.dir, relativeTo: manifestFolder, home: home)
    }

    /// The outbox a manifest asks for, resolved (the default lives in the library).
    public static func outbox(for manifest: Manifest, manifestFolder: String, home: String, layout: LibraryLayout) -> String {
        manifest.publish.outbox.map { PathText.resolve($0, relativeTo: manifestFolder, home: home) }
            ?? layout.defaultOutbox(drop: manifest.drop)
    }

    /// Checks the source folder exists.
    /// - Throws: `MissingSourceError` pointing at `source.dir`.
    public func checkSource() throws(MissingSourceError) {
        try Self.checkSource(sourceFolder, manifest: manifest)
    }

    /// Checks that `sourceFolder` (the manifest's resolved `source.dir`) is a folder.
    /// - Throws: `MissingSourceError` pointing at `source.dir`.
    public static func checkSource(_ sourceFolder: String, manifest: Manifest) throws(MissingSourceError) {
        guard FileSystem.isDirectory(sourceFolder) else {
            let location = manifest.locations["source.dir"]
            let exists = FileSystem.exists(sourceFolder)
            throw MissingSourceError(
                diagnostic: Diagnostic(
                    at: location, key: "source.dir",
                    exists
                        ? "'source.dir' is not a folder: \(sourceFolder)"
                        : "'source.dir' names a folder that does not exist: \(sourceFolder)"))
        }
    }

    /// Discovers, plans and runs (or, in a dry run, plans without side effects).
    public func run() async throws -> RunReport {
        var profile = PhaseClock(enabled: ProcessInfo.processInfo.environment["ELENA_PROFILE"] == "1")
        defer { profile.report(environment.reporter) }
        try checkSource()
        var environment = environment
        let store = environment.store
        let discovery = SourceDiscovery(folder: sourceFolder, source: manifest.source)
        let statCache = try await store.statEntries(prefix: sourceFolder + "/")
        profile.lap("load stat cache (\(statCache.count))")
        let found = try await discovery.run(statCache: statCache, concurrency: environment.concurrency)
        profile.lap("discover (\(found.files.count) files, \(found.hashed) hashed)")
        let plan = try Planner.plan(manifest, files: found.files).applying(try await store.publishOverrides())
        profile.lap("plan (\(plan.order.count) nodes)")

        if !environment.dryRun {
            for folder in [ReviewFolder.review, .approved, .rejected] {
                try FileSystem.makeDirectory(environment.layout.absolute(folder.rawValue))
            }
            // Half-written files of a run that was killed (never renamed into place) go before anything else.
            for top in LibraryLayout.topFolders {
                FileSystem.removeAbandonedTemporaries(in: environment.layout.absolute("\(top)/\(manifest.drop)"))
                FileSystem.removeAbandonedTemporaries(in: environment.layout.absolute(top))
            }
            FileSystem.removeAbandonedTemporaries(in: environment.outbox)
            if !found.newStatEntries.isEmpty { try await store.saveStatEntries(found.newStatEntries) }
        }
        for (path, reason) in found.unreadable {
            // A name with a newline or a control character is shown escaped, on one line.
            let shown = path.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }
                .joined()
            environment.reporter.note("error: \(shown): \(reason)")
        }

        environment.lineOverrides = try await store.lineOverrides()
        let cacheIndex = try await store.cacheIndex()
        profile.lap("load run cache (\(cacheIndex.count))")
        let reviews = try await store.reviews(drop: manifest.drop)
        profile.lap("load reviews (\(reviews.count))")
        let folders = ReviewFolderIndex.scan(environment.layout)
        profile.lap("scan review folders (\(folders.files.count))")
        let stages: [any Stage] = [
            OutboxStage(),
            IngestStage(),
            DetectStage(detectorIdentity: environment.detector?.identity),
            CropStage(),
            ReviewGateStage(reviews: reviews, index: folders),
            PublishFolderStage(),
            VaultStage(),
            uploadStage,
            AttachStage(),
            PostStage(),
            MessageStage(),
        ]
        let started = environment.now()
        var report = await Runner(stages: stages).run(plan, environment: environment, cacheIndex: cacheIndex)
        profile.lap("run graph")
        report.unreadable = found.unreadable
        if !environment.dryRun {
            try await store.append([
                EventRecord(
                    kind: "run.finished", drop: manifest.drop,
                    message: "run of \(manifest.drop): \(plan.items.count) items, exit \(report.exitCode)",
                    data: .object([
                        "items": .int(plan.items.count),
                        "hashed": .int(found.hashed),
                        "failed": .int(report.failureCount),
                        "waiting": .int(report.waitingItems.count),
                        "started_at": .string(Timestamp.format(started)),
                    ]), at: environment.now())
            ])
            profile.lap("record run")
        }
        return report
    }
}

/// Wall-clock time per phase, printed with ELENA_PROFILE=1 (for benchmarks and performance work).
struct PhaseClock {
    let enabled: Bool
    private var last = ContinuousClock.now
    private var laps: [(String, Duration)] = []

    init(enabled: Bool) { self.enabled = enabled }

    mutating func lap(_ name: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        laps.append((name, now - last))
        last = now
    }

    func report(_ reporter: any RunReporter) {
        guard enabled else { return }
        for (name, duration) in laps {
            let milliseconds = Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000
            reporter.note(String(format: "profile: %8.1f ms  %@", milliseconds, name))
        }
    }
}
