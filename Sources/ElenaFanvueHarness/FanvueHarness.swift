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
            retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.02, maxDelay: 2), requestTimeout: 10)
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

/// A drop of synthetic images published to the fake Fanvue, run in-process.
package struct FanvueDrop {
    package let harness: FanvueHarness
    package let layout: LibraryLayout
    package var manifestText: String
    /// The upload stage, with short polls.
    package var upload = UploadStage(firstPoll: 0.02, longestPoll: 0.2)
    /// The ledger (nil: the library's SQLite file).
    package var database: DatabaseURL?
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

    package func run() async throws -> RunReport {
        let (manifest, _) = try ManifestDecoder.decode(manifestText, file: "drop.yaml")
        try FileSystem.makeDirectory(layout.root)
        let store = try await SQLRunStore.open(databaseURL, readOnly: false)
        var session = DropSession(
            manifest: manifest, manifestFolder: harness.folder.path, home: "/root",
            environment: RunEnvironment(layout: layout, cache: store, dryRun: false, concurrency: 2, reporter: SilentReporter()),
            services: DropServices(
                store: store, fanvueStore: store, codec: OpenCVCodec(), outbox: layout.defaultOutbox(drop: "fv"), fanvue: client ?? harness.client,
                fanvueTarget: harness.configuration.apiURL))
        session.uploadStage = upload
        let prepared = session
        return try await withCleanup({ await store.close() }) { try await prepared.run() }
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

/// A TCP port on 127.0.0.1 that nothing listens on right now (for a redirect URI the login can bind).
package func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else { throw StoreError("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
