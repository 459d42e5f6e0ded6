import ElenaFanvue
import ElenaFanvueFake
import ElenaTestKit
import Foundation

/// What the Fanvue benchmarks share: a login saved for the fake, the binary pointed at it, and a person approving.
enum BenchLogin {
    /// Saves a login to the fake under `folder`/config and returns a runner of `binary` that uses it.
    static func runner(
        _ fake: FakeFanvue, settings: FakeFanvue.Configuration, folder: TemporaryDirectory, binary: String,
        environment extra: [String: String] = [:]
    ) throws -> CommandLineRunner {
        let issued = fake.issueTokens(scopes: FanvueConfiguration.defaultScopes)
        try TokenStore(configFolder: folder("config")).save(
            TokenSet(
                accessToken: issued.access, refreshToken: issued.refresh,
                expiresAt: Date().addingTimeInterval(Double(issued.expiresIn)),
                scope: FanvueConfiguration.defaultScopes.joined(separator: " "), tokenType: "Bearer", obtainedAt: Date()))
        var environment = [
            "FANVUE_CLIENT_ID": settings.clientID, "FANVUE_CLIENT_SECRET": settings.clientSecret,
            "FANVUE_API_URL": fake.baseURL, "FANVUE_AUTH_URL": fake.baseURL,
            "FANVUE_REDIRECT_URI": settings.redirectURIs[0], "ELENA_CONFIG_DIR": folder("config"),
        ]
        environment.merge(extra) { _, new in new }
        return CommandLineRunner(executable: binary, environment: environment, workingDirectory: folder.path)
    }

    /// Runs `body` with the fake started on `settings` and a temporary folder, and stops and removes both after.
    static func withFake(
        _ settings: FakeFanvue.Configuration, folder label: String,
        _ body: (FakeFanvue, TemporaryDirectory) async throws -> Void
    ) async throws {
        let fake = FakeFanvue(configuration: settings)
        try await fake.start()
        let folder = try TemporaryDirectory(label)
        do {
            try await body(fake, folder)
        } catch {
            await fake.stop()
            folder.remove()
            throw error
        }
        await fake.stop()
        folder.remove()
    }

    /// Approves every crop waiting in `library`'s review folder of `drop`, as a person would.
    static func approveAll(drop: String, library: String) throws {
        let review = library + "/3_review/" + drop
        try FileManager.default.createDirectory(atPath: library + "/4_approved", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: review) {
            try FileManager.default.moveItem(atPath: review + "/" + name, toPath: library + "/4_approved/" + name)
        }
    }
}
