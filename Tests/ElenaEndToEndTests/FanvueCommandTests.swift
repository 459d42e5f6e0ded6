import AsyncHTTPClient
import ElenaCore
import ElenaFanvue
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The `elena-run` binary against the fake Fanvue: `auth login --no-browser` end to end, the dry run's plan of
/// Fanvue work (and `--online`, which may only read), and a run without a login.
@Suite struct FanvueCommandTests {
    /// `auth login` ends when its time is up, and when it cannot listen for the redirect (the port taken) says so
    /// at once (it waited forever in both cases: the wait for the code ignored the cancellation).
    @Test func authLoginEndsOnItsTimeoutAndOnABusyPort() async throws {
        let busy = try LoopbackSocket.bind(listening: true).get()
        let free = try freeLoopbackPort()
        let harness = try await FanvueHarness.start {
            $0.redirectURIs = ["http://127.0.0.1:\(busy.port)/callback", "http://127.0.0.1:\(free)/callback"]
        }
        try await withCleanup({ await harness.stop() }) {
            var environment = harness.processEnvironment
            environment["ELENA_CONFIG_DIR"] = harness.folder("fresh-config")
            environment["FANVUE_REDIRECT_URI"] = "http://127.0.0.1:\(free)/callback"
            let waited = try await CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
                .run(["auth", "login", "--no-browser", "--timeout", "1"])
            #expect(waited.exitCode == 1, "\(waited)")
            #expect(waited.standardError.contains("no redirect arrived within 1 s"), "\(waited)")

            environment["FANVUE_REDIRECT_URI"] = "http://127.0.0.1:\(busy.port)/callback"
            let taken = try await CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
                .run(["auth", "login", "--no-browser", "--timeout", "60"])
            #expect(taken.exitCode == 1, "\(taken)")
            #expect(
                taken.standardError.contains("cannot listen on 127.0.0.1:\(busy.port) for Fanvue's redirect (FANVUE_REDIRECT_URI): the port is in use"),
                "\(taken)")
        }
        withExtendedLifetime(busy) {}
    }

    @Test func authLoginWithoutABrowserThenStatusAndLogout() async throws {
        let port = try freeLoopbackPort()
        let redirect = "http://127.0.0.1:\(port)/callback"
        let harness = try await FanvueHarness.start { $0.redirectURIs = [redirect] }
        try await withCleanup({ await harness.stop() }) {
            var environment = harness.processEnvironment
            environment["FANVUE_REDIRECT_URI"] = redirect
            environment["ELENA_CONFIG_DIR"] = harness.folder("fresh-config")
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            let tokenFile = harness.folder("fresh-config/fanvue-token.json")

            let notYet = try await runner.run(["auth", "status", "--offline"])
            #expect(notYet.exitCode == 1)
            #expect(notYet.standardOutput.contains("not logged in"))

            let log = harness.folder("login.log")
            let login = try runner.start(["auth", "login", "--no-browser", "--timeout", "60"], logPath: log)
            // The authorize URL is printed alone on one line; wait for it.
            var url: String?
            let deadline = Date().addingTimeInterval(30)
            while url == nil, login.isRunning, Date() < deadline {
                url = login.log.split(separator: "\n").map(String.init).first { $0.hasPrefix(harness.fake.baseURL + "/oauth2/auth?") }
                if url == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let authorize = try #require(url, "no authorize URL printed:\n\(login.log)")
            #expect(authorize.contains("code_challenge_method=S256") && authorize.contains("state="))
            // The "browser": Fanvue's consent redirects to the loopback listener, which the command is waiting on.
            let answer = try await HTTPClient.shared.execute(HTTPClientRequest(url: authorize), timeout: .seconds(10))
            #expect(answer.status == .ok, "the listener answers the browser with a page")
            let code = await login.wait()
            #expect(code == 0, "\(login.log)")

            let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let saved = try String(contentsOfFile: tokenFile, encoding: .utf8)
            let savedToken = try #require(try JSONValue.parse(saved)["accessToken"]?.stringValue ?? JSONValue.parse(saved)["access_token"]?.stringValue)
            #expect(!login.log.contains(savedToken), "the token is never printed")

            let status = try await runner.run(["auth", "status"])
            #expect(status.exitCode == 0, "\(status)")
            #expect(status.standardOutput.contains("logged in as account \(harness.fake.configuration.userUUID)"))
            #expect(!status.standardOutput.contains(savedToken) && !status.standardError.contains(savedToken))

            let doctor = try await runner.run(["doctor", "--library", harness.folder("doctor-library")])
            #expect(doctor.standardOutput.contains("ok   fanvue: logged in as account \(harness.fake.configuration.userUUID)"), "\(doctor)")
            // A token file others can read is refused, and doctor says how to fix it.
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: tokenFile)
            let exposed = try await runner.run(["doctor", "--offline", "--library", harness.folder("doctor-library")])
            #expect(exposed.exitCode == 1)
            #expect(exposed.standardOutput.contains("FAIL fanvue: ") && exposed.standardOutput.contains("\(tokenFile) is readable by others (mode 644); run chmod 600"), "\(exposed)")
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenFile)

            let logout = try await runner.run(["auth", "logout"])
            #expect(logout.exitCode == 0)
            #expect(!FileManager.default.fileExists(atPath: tokenFile))
            #expect(try await runner.run(["auth", "status", "--offline"]).exitCode == 1)
        }
    }

    @Test func aDryRunListsTheFanvueWorkAndOnlineOnlyReads() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(
                harness, images: 3,
                extra: """
                      tags: [dress, red]
                      message: {to: [7c1b1c1e-1111-4aaa-8bbb-000000000001], price: 20.00}
                    """)
            let environment = drop.processEnvironment()
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            let first = try await runner.run(["drop.yaml"])
            #expect(first.exitCode == 3, "\(first)")
            #expect(harness.fake.calls.isEmpty, "nothing reaches Fanvue before a person approved something")
            try drop.approveAll()

            let dry = try await runner.run(["drop.yaml", "--dry-run"])
            #expect(dry.exitCode == 0, "\(dry)")
            #expect(harness.fake.calls.isEmpty, "a dry run sends nothing")
            let text = dry.standardOutput
            #expect(text.contains("vault=elena-ppv  price=12.00  tags=dress,red  caption=\"New set #AIgenerated\""), "\(text)")
            #expect(text.contains("vault: make sure folder elena-ppv exists"))
            #expect(text.contains("upload 3 images, then add them to the vault (1 call)"))
            #expect(text.contains("message: pay-per-view at 20.00 to 1 fan, text \"New set #AIgenerated\""))
            // 1 folder + 1 account + 3 × 4 per upload + 1 attach + 1 message.
            #expect(text.contains("estimated Fanvue API requests: 16 (plus 3 part uploads to storage)"))

            let json = try await runner.run(["drop.yaml", "--dry-run", "--json", "--online"])
            #expect(json.exitCode == 0, "\(json)")
            let document = try JSONValue.parse(json.standardOutput)
            let fanvue = try #require(document["fanvue"])
            #expect(fanvue["uploads"]?.intValue == 3)
            #expect(fanvue["estimated_api_requests"]?.intValue == 16)
            #expect(fanvue["message"]?["price"]?.doubleValue == 20)
            #expect(fanvue["online"]?["account"]?.stringValue == harness.fake.configuration.userUUID)
            #expect(fanvue["online"]?["folders"]?["elena-ppv"]?.boolValue == false)
            #expect(!harness.fake.calls.isEmpty && harness.fake.calls.allSatisfy { $0.method == "GET" }, "--online only reads")
            #expect(harness.fake.folders.isEmpty && harness.fake.media.isEmpty)

            let offline = try await runner.run(["drop.yaml", "--online"])
            #expect(offline.exitCode == 2)
            #expect(offline.standardError.contains("--online goes with --dry-run"))
        }
    }

    @Test func withoutALoginTheRunStillCropsThenSaysWhatIsMissingOnce() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 4)
            var environment = drop.processEnvironment()
            environment["ELENA_CONFIG_DIR"] = harness.folder("no-login")
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            let first = try await runner.run(["drop.yaml"])
            #expect(first.exitCode == 3, "ingest, crop and review go on without a login\n\(first)")
            #expect(first.standardError.contains("not logged in to Fanvue; run `elena-run auth login`"))
            try drop.approveAll()
            let second = try await runner.run(["drop.yaml"])
            #expect(second.exitCode == 1)
            #expect(second.standardOutput.contains("upload, 4 items ("), "one line for the same error\n\(second)")
            #expect(second.standardOutput.components(separatedBy: "run `elena-run auth login`").count - 1 == 2, "upload and vault")
            #expect(harness.fake.calls.isEmpty)
        }
    }

    /// A refresh token Fanvue refuses mid-drop: the run stops with one line saying to log in again, nothing is
    /// marked as lost, and after a new login the next run uploads each image once.
    @Test func aRefusedRefreshTokenStopsCleanlyAndALoginResumes() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 3)
            let environment = drop.processEnvironment()
            let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
            #expect(try await runner.run(["drop.yaml"]).exitCode == 3)
            try drop.approveAll()
            let tokens = TokenStore(configFolder: harness.folder("config"))
            var saved = try #require(try tokens.load())
            saved.refreshToken = "revoked-refresh-token-0000000000"
            saved.expiresAt = Date().addingTimeInterval(-60)
            try tokens.save(saved)

            let refused = try await runner.run(["drop.yaml"])
            #expect(refused.exitCode == 1, "\(refused)")
            #expect(refused.standardOutput.contains("run `elena-run auth login`"), "\(refused)")
            #expect(harness.fake.media.isEmpty)
            let store = try await drop.store()
            for item in try await store.items(drop: "fv") {
                #expect(item.status != .published)
            }
            await store.close()

            let issued = harness.fake.issueTokens(scopes: FanvueHarness.allScopes)
            saved.accessToken = issued.access
            saved.refreshToken = issued.refresh
            saved.expiresAt = Date().addingTimeInterval(Double(issued.expiresIn))
            try tokens.save(saved)
            let resumed = try await runner.run(["drop.yaml"])
            #expect(resumed.exitCode == 0, "\(resumed)")
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 3)
            #expect(harness.fake.media.count == 3, "nothing uploaded twice")
        }
    }
}
