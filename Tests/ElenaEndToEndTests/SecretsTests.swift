import ElenaCore
import ElenaFanvue
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A full run through the binary — review gate, publishing with a post and a message, status, doctor, send, sync,
/// stats — with every output collected: the access and refresh tokens, the client secret and the database
/// password appear in none of it (standard output and error, `--json`, files in the library, the event log), and
/// every uploaded file carries no metadata. The runs log at debug level (`ELENA_LOG=debug`), so the log is checked too.
@Suite struct SecretsTests {
    @Test func noSecretAppearsAnywhereAfterAFullRun() async throws {
        let harness = try await FanvueHarness.start()
        let backend = TestBackend.available.last ?? .sqlite
        let database = try await TestDatabase.make(backend)
        defer {
            Task {
                await database.remove()
                await harness.stop()
            }
        }
        let fan = "7c1b1c1e-1111-4aaa-8bbb-000000000001"
        var drop = try FanvueDrop.make(
            harness, images: 3, extra: "  message: {to: [\(fan)], price: 10.00}\n  tags: [red]\n")
        drop.database = database.url
        var environment = drop.processEnvironment(database: database.urlText)
        // Every request and step logged too: the log must not leak either.
        environment["ELENA_LOG"] = "debug"
        let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)

        var secrets: [String: String] = ["client secret": try #require(harness.configuration.clientSecret)]
        let tokenFile = try JSONValue.parse(String(contentsOfFile: harness.folder("config/fanvue-token.json"), encoding: .utf8))
        if case .object(let members) = tokenFile {
            for member in members where member.key.lowercased().contains("token") {
                if let value = member.value.stringValue, value.count >= 16 { secrets[member.key] = value }
            }
        }
        #expect(secrets.count >= 3, "the client secret and both tokens: \(secrets.keys.sorted())")
        if case .postgres(_, _, _, let password?, _, _) = database.url.kind { secrets["database password"] = password }

        var outputs: [String] = []
        func run(_ arguments: [String]) async throws -> CommandLineRunner.Result {
            let result = try await runner.run(arguments)
            outputs.append("$ \(arguments.joined(separator: " "))\n\(result.standardOutput)\n\(result.standardError)")
            return result
        }
        #expect(try await run(["drop.yaml"]).exitCode == 3)
        try drop.approveAll()
        let published = try await run(["drop.yaml", "--json"])
        #expect(published.exitCode == 0)
        // The debug log names the requests and the steps (method, path, status), on standard error.
        #expect(published.standardError.contains("fanvue: POST /media/uploads -> 200"), "\(published.standardError)")
        #expect(published.standardError.contains("fanvue: PUT storage part"))
        #expect(published.standardError.contains("run: upload "))
        #expect(!published.standardOutput.contains("fanvue: "), "the log stays out of --json")
        _ = try await run(["drop.yaml", "--dry-run", "--online"])
        _ = try await run(["status", "drop.yaml", "--json"])
        _ = try await run(["status"])
        _ = try await run(["doctor"])
        _ = try await run(["auth", "status"])
        _ = try await run(["send", "drop:fv", "--to", "7c1b1c1e-1111-4aaa-8bbb-000000000002", "--price", "9", "--json"])
        _ = try await run(["sync"])
        _ = try await run(["stats", "--json", "--html", "stats.html"])
        // A failure's message too: a database that refuses the password.
        var wrong = environment
        wrong["DATABASE_URL"] = database.urlText.replacingOccurrences(of: secrets["database password"] ?? "\u{0}", with: "wrong-password")
        let refused = try await CommandLineRunner(environment: wrong, workingDirectory: harness.folder.path).run(["status"])
        outputs.append(refused.standardOutput + refused.standardError)

        let store = try await drop.store()
        let events = try await store.events(drop: nil, limit: 100_000)
        await store.close()
        outputs += events.map { "\($0.message) \($0.data?.serialized() ?? "")" }
        #expect(events.contains { $0.kind == "fanvue.message" })
        for path in FileManager.default.subpaths(atPath: drop.layout.root) ?? [] where !path.hasSuffix(".db") {
            if let text = try? String(contentsOfFile: drop.layout.root + "/" + path, encoding: .utf8) { outputs.append(text) }
        }
        outputs.append(try String(contentsOfFile: harness.folder("stats.html"), encoding: .utf8))
        let everything = outputs.joined(separator: "\n")
        #expect(everything.count > 2000, "the run wrote something to check")
        for (name, secret) in secrets {
            #expect(!everything.contains(secret), "the \(name) leaked")
        }

        #expect(harness.fake.media.count == 3)
        for media in harness.fake.media {
            let bytes = try #require(harness.fake.uploadedBytes(media.uuid))
            #expect(MetadataInspector.metadata(in: Data(bytes)).isEmpty, "\(media.filename) carries metadata")
        }
    }
}
