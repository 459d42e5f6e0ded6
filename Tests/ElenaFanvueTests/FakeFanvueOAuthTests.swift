import AsyncHTTPClient
import ElenaCore
import ElenaFanvueFake
import ElenaFanvueHarness
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The OAuth dance by hand: authorize → redirect with a code → token → refresh rotation → reuse detection.
@Suite struct FakeFanvueOAuthTests {
    static let redirect = "http://127.0.0.1:8723/callback"
    /// A verifier and its S256 challenge, computed with Python's hashlib and base64 (independently of the fake).
    static let verifier = "elena-test-verifier_0123456789.abcdefghijklmnopqrstuvwxyz~"
    static let challenge = "Lc-1qZpAj1oUzHwNmSRwdajmoCuDGfDgM-_boUfSsWA"

    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0)=\(encode($1))" }.joined(separator: "&")
    }

    static func authorizePath(
        clientID: String = "test-client", redirect: String = redirect,
        scope: String = "openid offline_access read:self",
        state: String = "st-123 &x", challenge: String? = challenge, method: String? = "S256"
    ) -> String {
        var pairs = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirect), ("scope", scope),
            ("state", state),
        ]
        if let challenge { pairs.append(("code_challenge", challenge)) }
        if let method { pairs.append(("code_challenge_method", method)) }
        return "/oauth2/auth?" + query(pairs)
    }

    static func basic(_ id: String = "test-client", _ secret: String = "test-secret") -> String {
        "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
    }

    func token(
        _ h: FakeFanvueHarness, _ form: [(String, String)], authorization: String? = basic()
    ) async throws -> FakeFanvueHarness.Reply {
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        if let authorization { headers.append(("Authorization", authorization)) }
        return try await h.plain(.POST, "/oauth2/token", body: Array(Self.query(form).utf8), headers: headers)
    }

    /// Authorizes and returns the code from the redirect.
    func code(_ h: FakeFanvueHarness, scope: String = "openid offline_access read:self") async throws -> String {
        let reply = try await h.plain(.GET, Self.authorizePath(scope: scope))
        try #require(reply.status == 302, "\(reply.text)")
        let location = try #require(reply.header("Location"))
        let components = try #require(URLComponents(string: location))
        #expect(location.hasPrefix(Self.redirect + "?"))
        #expect(components.queryItems?.first { $0.name == "state" }?.value == "st-123 &x")
        return try #require(components.queryItems?.first { $0.name == "code" }?.value)
    }

    func exchange(_ h: FakeFanvueHarness, _ code: String, verifier: String = verifier) async throws
        -> FakeFanvueHarness.Reply
    {
        try await token(
            h,
            [
                ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect),
                ("client_id", "test-client"), ("code_verifier", verifier),
            ])
    }

    func refresh(_ h: FakeFanvueHarness, _ refreshToken: String) async throws -> FakeFanvueHarness.Reply {
        try await token(
            h, [("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", "test-client")])
    }

    @Test func wholeDanceWithRotationAndReuseDetection() async throws {
        try await FakeFanvueHarness.with { h in
            let code = try await code(h)
            let first = try await exchange(h, code)
            #expect(first.status == 200, "\(first.text)")
            let firstAccess = try #require(first.json?["access_token"]?.stringValue)
            let firstRefresh = try #require(first.json?["refresh_token"]?.stringValue)
            #expect(firstRefresh.hasPrefix("ory_rt_"))
            #expect(first.json?["token_type"]?.stringValue == "Bearer")
            #expect(first.json?["expires_in"]?.intValue == 3600)
            #expect(first.json?["scope"]?.stringValue == "openid offline_access read:self")
            #expect(try await h.api(.GET, "/users/me", bearer: firstAccess).status == 200)

            // The code works once only.
            let replay = try await exchange(h, code)
            #expect(replay.status == 400)
            #expect(replay.json?["error"]?.stringValue == "invalid_grant")
        }
    }

    @Test func refreshRotatesAndReuseRevokesTheFamily() async throws {
        try await FakeFanvueHarness.with { h in
            let first = try await exchange(h, try await code(h))
            let firstAccess = try #require(first.json?["access_token"]?.stringValue)
            let firstRefresh = try #require(first.json?["refresh_token"]?.stringValue)

            let second = try await refresh(h, firstRefresh)
            #expect(second.status == 200, "\(second.text)")
            let secondAccess = try #require(second.json?["access_token"]?.stringValue)
            let secondRefresh = try #require(second.json?["refresh_token"]?.stringValue)
            #expect(secondRefresh != firstRefresh)
            #expect(secondAccess != firstAccess)
            #expect(try await h.api(.GET, "/users/me", bearer: secondAccess).status == 200)

            let third = try await refresh(h, secondRefresh)
            #expect(third.status == 200)
            let thirdAccess = try #require(third.json?["access_token"]?.stringValue)
            let thirdRefresh = try #require(third.json?["refresh_token"]?.stringValue)

            // Reusing a spent refresh token is refused and revokes every token of the login.
            let reuse = try await refresh(h, firstRefresh)
            #expect(reuse.status == 400)
            #expect(reuse.json?["error"]?.stringValue == "invalid_grant")
            #expect(try await h.api(.GET, "/users/me", bearer: thirdAccess).status == 401)
            #expect(try await h.api(.GET, "/users/me", bearer: firstAccess).status == 401)
            let afterRevoke = try await refresh(h, thirdRefresh)
            #expect(afterRevoke.status == 400)
            #expect(afterRevoke.json?["error"]?.stringValue == "invalid_grant")
            // Another login is unaffected.
            #expect(try await h.api(.GET, "/users/me").status == 200)
        }
    }

    @Test func noRefreshTokenWithoutOfflineAccess() async throws {
        try await FakeFanvueHarness.with { h in
            let reply = try await exchange(h, try await code(h, scope: "openid read:self"))
            #expect(reply.status == 200)
            #expect(reply.json?["access_token"]?.stringValue != nil)
            #expect(reply.json?["refresh_token"] == nil)
        }
    }

    @Test func codeExchangeChecksVerifierRedirectAndClient() async throws {
        try await FakeFanvueHarness.with { h in
            let wrongVerifier = try await exchange(h, try await code(h), verifier: String(repeating: "a", count: 43))
            #expect(wrongVerifier.status == 400)
            #expect(wrongVerifier.json?["error"]?.stringValue == "invalid_grant")

            let otherRedirect = try await token(
                h,
                [
                    ("grant_type", "authorization_code"), ("code", try await code(h)),
                    ("redirect_uri", "http://127.0.0.1:9999/callback"), ("code_verifier", Self.verifier),
                ])
            #expect(otherRedirect.status == 400)
            #expect(otherRedirect.json?["error"]?.stringValue == "invalid_grant")

            let code = try await code(h)
            let noBasic = try await token(
                h,
                [
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect),
                    ("code_verifier", Self.verifier), ("client_id", "test-client"),
                ], authorization: nil)
            #expect(noBasic.status == 401)
            #expect(noBasic.json?["error"]?.stringValue == "invalid_client")
            let wrongSecret = try await token(
                h,
                [
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect),
                    ("code_verifier", Self.verifier),
                ], authorization: Self.basic("test-client", "nope"))
            #expect(wrongSecret.status == 401)
            #expect(wrongSecret.json?["error"]?.stringValue == "invalid_client")
            // The failed attempts did not spend the code.
            #expect(try await exchange(h, code).status == 200)

            let grant = try await token(h, [("grant_type", "client_credentials")])
            #expect(grant.status == 400)
            #expect(grant.json?["error"]?.stringValue == "unsupported_grant_type")
        }
    }

    @Test(arguments: [
        ("bad client", FakeFanvueOAuthTests.authorizePath(clientID: "someone-else")),
        ("bad redirect", FakeFanvueOAuthTests.authorizePath(redirect: "http://127.0.0.1:8723/callback/")),
        ("no PKCE", FakeFanvueOAuthTests.authorizePath(challenge: nil, method: nil)),
        ("no method", FakeFanvueOAuthTests.authorizePath(method: nil)),
        ("plain method", FakeFanvueOAuthTests.authorizePath(method: "plain")),
        ("unknown scope", FakeFanvueOAuthTests.authorizePath(scope: "openid read:subscribers")),
        ("no state", FakeFanvueOAuthTests.authorizePath(state: "")),
    ])
    func authorizeRefuses(_ label: String, _ path: String) async throws {
        try await FakeFanvueHarness.with { h in
            let reply = try await h.plain(.GET, path)
            #expect(reply.status == 400, "\(label)")
            #expect(reply.header("Location") == nil, "\(label)")
            #expect(reply.header("Content-Type")?.hasPrefix("text/html") == true, "\(label)")
        }
    }

    @Test func refreshNeedsAKnownToken() async throws {
        try await FakeFanvueHarness.with { h in
            let reply = try await refresh(h, "ory_rt_made-up")
            #expect(reply.status == 400)
            #expect(reply.json?["error"]?.stringValue == "invalid_grant")
            let issued = h.fake.issueTokens(scopes: ["read:self"])
            #expect(issued.expiresIn == 3600)
            let rotated = try await refresh(h, issued.refresh)
            #expect(rotated.status == 200)
        }
    }
}
