package import ElenaCore
package import ElenaEngine
package import ElenaFanvue
package import ElenaFanvueFake
package import ElenaStages
package import ElenaStore
package import ElenaTestKit
package import ElenaTestSupport
import ElenaVision
import Foundation

/// A fake Fanvue on 127.0.0.1, a saved login for it, and a real client configured to talk to it.
package struct FanvueHarness {
    package let fake: FakeFanvue
    package let folder: TemporaryDirectory
    package let configuration: FanvueConfiguration
    package let client: FanvueClient

    package static let allScopes = FanvueConfiguration.defaultScopes

    package static func start(_ configure: (inout FakeFanvue.Configuration) -> Void = { _ in }) async throws -> FanvueHarness {
        var settings = FakeFanvue.Configuration()
        configure(&settings)
        let fake = FakeFanvue(configuration: settings)
        try await fake.start()
        let folder = try TemporaryDirectory("elena-fanvue")
        let configuration = FanvueConfiguration(
            clientID: settings.clientID, clientSecret: settings.clientSecret, redirectURI: settings.redirectURIs[0],
            apiURL: fake.baseURL, authURL: fake.baseURL,
            // The product's own request timeout: under a fully loaded test run (every suite at once on two cores) an
            // answer of the in-process fake took over 10 s, and a request that creates something is never retried.
            // A test of timeouts sets its own.
            retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.02, maxDelay: 2), requestTimeout: 60)
        let issued = fake.issueTokens(scopes: allScopes)
        let store = TokenStore(configFolder: folder("config"))
        try store.save(
            TokenSet(
                accessToken: issued.access, refreshToken: issued.refresh,
                expiresAt: Date().addingTimeInterval(Double(issued.expiresIn)), scope: allScopes.joined(separator: " "),
                tokenType: "Bearer", obtainedAt: Date()))
        let client = FanvueClient(
            configuration: configuration, tokens: TokenProvider(store: store, oauth: OAuthClient(configuration: configuration)))
        return FanvueHarness(fake: fake, folder: folder, configuration: configuration, client: client)
    }

    package func stop() async {
        await fake.stop()
        folder.remove()
    }

    /// The environment variables that point the `elena-run` binary at the fake with this login.
    package var processEnvironment: [String: String] {
        [
            "FANVUE_CLIENT_ID": configuration.clientID, "FANVUE_CLIENT_SECRET": configuration.clientSecret ?? "",
            "FANVUE_API_URL": fake.baseURL, "FANVUE_AUTH_URL": fake.baseURL, "FANVUE_REDIRECT_URI": configuration.redirectURI,
            "ELENA_CONFIG_DIR": folder("config"), "ELENA_FANVUE_RETRY_BASE_MS": "20", "ELENA_FANVUE_RETRY_MAX_MS": "1000",
            "ELENA_FANVUE_FIRST_POLL_MS": "30", "ELENA_FANVUE_LONGEST_POLL_MS": "200", "ELENA_FANVUE_TIMEOUT_S": "10",
        ]
    }

    /// Write calls (anything but GET/HEAD) the fake received at or after `index` in its call list.
    package func writes(since index: Int) -> [FakeFanvue.Call] {
        fake.calls.dropFirst(index).filter { $0.method != "GET" && $0.method != "HEAD" }
    }
}

/// How a run started by `killSomewhere` ended.
package enum KillOutcome: Sendable {
    /// Killed with SIGKILL (`bySignal` false if it had ended in the very instant).
    case killed(bySignal: Bool)
    /// It ended by itself first, with this exit code and log.
    case finished(code: Int32, log: String)
}

extension FanvueHarness {
    /// Starts the binary with `arguments` and kills it with SIGKILL at a random point: three times in four after 1 to
    /// `maxCalls` more calls reach the fake (the kill lands inside the work, often between the fake acting and its
    /// answer), otherwise after a random pause of up to `maxPause` seconds (anywhere: opening the database,
    /// planning, mid-request).
    package func killSomewhere(
        _ arguments: [String], runner: CommandLineRunner, log: String, maxCalls: Int, maxPause: Double,
        random: inout SeededRandom
    ) async throws -> KillOutcome {
        let before = fake.calls.count
        let byCalls = Int.random(in: 0..<4, using: &random) != 0
        let calls = Int.random(in: 1...maxCalls, using: &random)
        let pause = Double.random(in: 0...(byCalls ? 0.02 : maxPause), using: &random)
        let process = try runner.start(arguments, logPath: log)
        if byCalls {
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && fake.calls.count - before < calls && Date() < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        try await Task.sleep(for: .milliseconds(Int(pause * 1000)))
        guard process.isRunning else { return .finished(code: await process.wait(), log: process.log) }
        process.kill()
        await process.wait()
        return .killed(bySignal: process.wasKilled)
    }
}

/// A drop of synthetic images published to the fake Fanvue, run in-process.
package struct FanvueDrop {
    package let harness: FanvueHarness
    package let layout: LibraryLayout
    package var manifestText: String
    /// The upload stage, with short polls.
    package var upload = UploadStage(firstPoll: 0.02, longestPoll: 0.2)
    /// The ledger (nil: the library's SQLite file).
    package var database: DatabaseURL?
    /// The ledger in memory instead of any database (kept across runs; `database` is then unused).
    package var memory: MemoryLedger?
    /// The Fanvue client (nil: the harness's).
    package var client: FanvueClient?

    /// The environment the binary runs this drop with: the harness's (the fake Fanvue, the login folder), the
    /// drop's library, and the ledger `database` when one is given.
    package func processEnvironment(database: String? = nil) -> [String: String] {
        var environment = harness.processEnvironment
        environment["ELENA_LIBRARY"] = layout.root
        if let database { environment["DATABASE_URL"] = database }
        return environment
    }

    package static func make(_ harness: FanvueHarness, images: Int, extra: String = "") throws -> FanvueDrop {
        try SourceFixtures.writeImages(into: harness.folder, count: images)
        let text = """
            version: 1
            drop: fv
            source: {dir: src}
            crop: {strategy: top_fraction}
            publish:
              to: fanvue
              vault: elena-ppv
              price: 12.00
              caption: "New set"
            \(extra)
            """
        try harness.folder.write(text, to: "drop.yaml")
        return FanvueDrop(harness: harness, layout: LibraryLayout(root: harness.folder("library")), manifestText: text)
    }

    /// Runs the drop in-process on its ledger: `memory` when set, else the database.
    package func run() async throws -> RunReport {
        let (manifest, _) = try ManifestDecoder.decode(manifestText, file: "drop.yaml")
        try FileSystem.makeDirectory(layout.root)
        if let memory { return try await session(manifest, store: memory).run() }
        let store = try await SQLRunStore.open(databaseURL, readOnly: false)
        let prepared = session(manifest, store: store)
        return try await withCleanup({ await store.close() }) { try await prepared.run() }
    }

    /// The drop's session on `store`, every role of it.
    func session(_ manifest: Manifest, store: any RunStore) -> DropSession {
        var session = DropSession(
            manifest: manifest, manifestFolder: harness.folder.path, home: "/root",
            environment: RunEnvironment(layout: layout, cache: store, dryRun: false, concurrency: 2, reporter: SilentReporter()),
            services: DropServices(
                store: store, fanvueStore: store, codec: OpenCVCodec(), outbox: layout.defaultOutbox(drop: "fv"), fanvue: client ?? harness.client,
                fanvueTarget: harness.configuration.apiURL))
        session.uploadStage = upload
        return session
    }

    /// Approves every waiting crop by moving its copy, as a person would.
    package func approveAll() throws {
        let review = layout.absolute("3_review/fv")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: review)) ?? [] {
            try FileSystem.move(review + "/" + name, to: layout.absolute("4_approved/" + name))
        }
    }

    package func store() async throws -> SQLRunStore {
        try await SQLRunStore.open(databaseURL, readOnly: false)
    }

    package var databaseURL: DatabaseURL { database ?? DatabaseURL(sqlitePath: layout.defaultDatabase) }
}

/// A drop published to the fake Fanvue (approved and uploaded) on a test database, and a runner of the `elena-run`
/// binary on that library and ledger: where the tests of `send`, `sync` and `reconcile` start.
package struct PublishedDrop {
    package let harness: FanvueHarness
    package let drop: FanvueDrop
    package let database: TestDatabase
    package let runner: CommandLineRunner

    /// Starts the fake, makes a drop of `images` with the manifest lines `extra`, runs it to the review gate,
    /// approves everything and runs it again.
    package static func start(_ backend: TestBackend, images: Int, extra: String = "") async throws -> PublishedDrop {
        let harness = try await FanvueHarness.start()
        let database = try await TestDatabase.make(backend)
        var drop = try FanvueDrop.make(harness, images: images, extra: extra)
        drop.database = database.url
        _ = try await drop.run()
        try drop.approveAll()
        let report = try await drop.run()
        guard report.failureCount == 0 else { throw StoreError("the drop failed: \(report.failures)") }
        let runner = CommandLineRunner(
            environment: drop.processEnvironment(database: database.urlText), workingDirectory: harness.folder.path)
        return PublishedDrop(harness: harness, drop: drop, database: database, runner: runner)
    }

    package func stop() async {
        await database.remove()
        await harness.stop()
    }

    /// The messages the fake holds in the chat with `fan`.
    package func messages(to fan: String) -> [JSONValue] {
        harness.fake.messages.filter { $0["fanUuid"]?.stringValue == fan }
    }

    /// The sends the ledger holds for `fan`.
    package func sends(to fan: String) async throws -> [SendRecord] {
        let store = try await drop.store()
        let sends = try await store.allSends().filter { $0.fan == fan }
        await store.close()
        return sends
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (for a redirect URI the login can bind).
package func freeLoopbackPort() throws -> Int {
    guard let port = LoopbackSocket.freePort() else { throw StoreError("no free port") }
    return port
}
