import AsyncHTTPClient
import ElenaCore
import ElenaFakeServer
import ElenaFanvueFake
import ElenaFanvueHarness
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// What every API request goes through (version header, bearer, scopes, rate limit) and the injected faults.
@Suite struct FakeFanvueGateTests {
    @Test func versionHeaderIsRequired() async throws {
        try await FakeFanvueHarness.with { h in
            let missing = try await h.api(.GET, "/users/me", version: nil)
            #expect(missing.status == 400)
            #expect(missing.json?["error"]?.stringValue == "Unsupported API version")
            #expect(missing.json?["message"]?.stringValue != nil)
            let old = try await h.api(.GET, "/users/me", version: "2024-01-01")
            #expect(old.status == 400)
            #expect(
                old.json
                    == .object([
                        "error": .string("Unsupported API version"),
                        "message": .string("API version '2024-01-01' is not supported"),
                    ]))
            #expect(try await h.api(.GET, "/users/me", bearer: .some(nil), version: nil).status == 400)
            let me = try await h.api(.GET, "/users/me")
            #expect(me.status == 200)
            #expect(me.json?["handle"]?.stringValue == "elena")
            #expect(h.fake.calls.map(\.status) == [400, 400, 400, 200])
        }
    }

    @Test func bearerIsRequired() async throws {
        try await FakeFanvueHarness.with { h in
            let none = try await h.api(.GET, "/users/me", bearer: .some(nil))
            #expect(none.status == 401)
            #expect(none.json?["error"]?.stringValue != nil)
            #expect(try await h.api(.GET, "/users/me", bearer: "made-up").status == 401)
            let basic = try await h.plain(
                .GET, "/users/me", headers: [("X-Fanvue-API-Version", "2025-06-26"), ("Authorization", "Basic eDp5")])
            #expect(basic.status == 401)
            #expect(h.fake.calls.map(\.status) == [401, 401, 401])
            #expect(h.fake.calls.map(\.hadBearer) == [false, true, false])
        }
    }

    @Test func scopesAreChecked() async throws {
        try await FakeFanvueHarness.with(scopes: ["read:self"]) { h in
            let upload = try await h.api(
                .POST, "/media/uploads",
                json: .object(["name": .string("a"), "filename": .string("a.jpg"), "mediaType": .string("image")]))
            #expect(upload.status == 403)
            #expect(upload.json?["error"]?.stringValue?.contains("write:media") == true)
            #expect(try await h.api(.GET, "/users/me").status == 200)
            #expect(h.fake.calls.map(\.status) == [403, 200])
        }
        var open = FakeFanvue.Configuration()
        open.enforceScopes = false
        try await FakeFanvueHarness.with(open, scopes: []) { h in
            let folders = try await h.api(.GET, "/vault/folders")
            #expect(folders.status == 200)
        }
    }

    @Test func rateLimitHeadersAnd429() async throws {
        var configuration = FakeFanvue.Configuration()
        configuration.rateLimit = 3
        configuration.rateWindow = 30
        let time = FakeTime.manual()
        configuration.time = time  // the window passes when the test says so, however loaded the machine
        try await FakeFanvueHarness.with(configuration) { h in
            let start = time.now
            var remaining: [String?] = []
            var resetAt = start
            for _ in 0..<3 {
                let reply = try await h.api(.GET, "/users/me")
                #expect(reply.status == 200)
                #expect(reply.header("X-RateLimit-Limit") == "3")
                remaining.append(reply.header("X-RateLimit-Remaining"))
                let reset = try #require(reply.header("X-RateLimit-Reset").flatMap(Double.init))
                #expect(reset == (start.timeIntervalSince1970 + 30).rounded(.up))
                resetAt = Date(timeIntervalSince1970: reset)
            }
            #expect(remaining == ["2", "1", "0"])
            // Storage and OAuth do not count.
            #expect(try await h.plain(.PUT, "/storage/x/1?X-Amz-Signature=0", body: [1]).status == 403)
            #expect(try await h.plain(.GET, "/oauth2/auth").status == 400)

            let limited = try await h.api(.GET, "/users/me")
            #expect(limited.status == 429)
            #expect(limited.json == .object(["error": .string("Too Many Requests")]))
            let retryAfter = try #require(limited.header("Retry-After").flatMap(Int.init))
            #expect(retryAfter == 30)
            #expect(limited.header("X-RateLimit-Remaining") == "0")
            #expect(h.fake.calls.last?.status == 429)

            // Just before the refill the bucket is still empty; just after, it is full again.
            time.advance(by: resetAt.timeIntervalSince(time.now) - 1)
            #expect(try await h.api(.GET, "/users/me").status == 429)
            time.advance(by: 1.2)
            let refilled = try await h.api(.GET, "/users/me")
            #expect(refilled.status == 200)
            #expect(refilled.header("X-RateLimit-Remaining") == "2")
        }
    }

    @Test func failNextInjectsStatusesByPathAndMethod() async throws {
        try await FakeFanvueHarness.with { h in
            h.fake.failNext(2, status: 503, pathPrefix: "/vault", method: "GET")
            #expect(try await h.api(.GET, "/users/me").status == 200)
            #expect(try await h.api(.POST, "/vault/folders", json: .object(["name": .string("v")])).status == 201)
            let failed = try await h.api(.GET, "/vault/folders")
            #expect(failed.status == 503)
            #expect(failed.json?["error"]?.stringValue == "Service Unavailable")
            #expect(failed.header("X-RateLimit-Limit") != nil)
            #expect(try await h.api(.GET, "/vault/folders/v").status == 503)
            #expect(try await h.api(.GET, "/vault/folders").status == 200)

            h.fake.failNext(1, status: 500)
            let any = try await h.api(.GET, "/users/me")
            #expect(any.status == 500)
            #expect(any.json?["error"]?.stringValue == "Internal Server Error")
            h.fake.failNext(1, status: 500, pathPrefix: "/storage/")
            let storage = try await h.plain(.PUT, "/storage/x/1?X-Amz-Signature=0", body: [1])
            #expect(storage.status == 500)
            #expect(storage.text.contains("<Code>InternalError</Code>"))
            #expect(h.fake.calls.map(\.status) == [200, 201, 503, 503, 200, 500, 500])
        }
    }

    @Test func droppedConnectionIsAConnectionError() async throws {
        try await FakeFanvueHarness.with { h in
            h.fake.dropNextConnections(1, pathPrefix: "/users/me")
            let error = await #expect(throws: HTTPClientError.self) { try await h.api(.GET, "/users/me") }
            #expect(error == .remoteConnectionClosed)
            let next = try await h.api(.GET, "/users/me")
            #expect(next.status == 200)

            // A storage PUT is read in full before the connection is closed.
            h.fake.dropNextConnections(1, pathPrefix: "/storage/", method: "PUT")
            await #expect(throws: HTTPClientError.remoteConnectionClosed) {
                try await h.plain(.PUT, "/storage/x/1?X-Amz-Signature=0", body: Array(repeating: 7, count: 100_000))
            }
            let calls = h.fake.calls
            #expect(calls.map(\.status) == [0, 200, 0])
            #expect(calls[2].bodySize == 100_000)
        }
    }

    @Test func delayNextSlowsTheAnswer() async throws {
        try await FakeFanvueHarness.with { h in
            // Real time on purpose: this is what a client's deadline sees.
            h.fake.delayNext(1, by: 0.4, pathPrefix: "/users")
            var start = Date()
            let slow = try await h.api(.GET, "/users/me")
            #expect(slow.status == 200)
            #expect(Date().timeIntervalSince(start) >= 0.4)
            let slowTook = Date().timeIntervalSince(start)
            start = Date()
            let fast = try await h.api(.GET, "/users/me")
            #expect(fast.status == 200)
            #expect(Date().timeIntervalSince(start) < slowTook, "only the next call was delayed")

            // A client deadline shorter than the delay times out.
            h.fake.delayNext(1, by: 0.5)
            var request = HTTPClientRequest(url: h.fake.baseURL + "/users/me")
            request.headers.add(name: "X-Fanvue-API-Version", value: "2025-06-26")
            request.headers.add(name: "Authorization", value: "Bearer \(h.token)")
            await #expect(throws: (any Error).self) {
                _ = try await h.client.execute(request, timeout: .milliseconds(100))
            }
        }
    }

    @Test func rateLimitStormAnswers429ToAPIRequestsOnly() async throws {
        try await FakeFanvueHarness.with { h in
            h.fake.rateLimitStorm(2)
            #expect(try await h.plain(.GET, "/oauth2/auth").status == 400)
            for _ in 0..<2 {
                let reply = try await h.api(.GET, "/users/me")
                #expect(reply.status == 429)
                #expect(reply.header("Retry-After") == "1")
                #expect(reply.json == .object(["error": .string("Too Many Requests")]))
            }
            let after = try await h.api(.GET, "/users/me")
            #expect(after.status == 200)
            #expect(after.header("X-RateLimit-Remaining") == "199")
            #expect(h.fake.calls.map(\.status) == [400, 429, 429, 200])
        }
    }

    @Test func expireAllAccessTokensForcesARefresh() async throws {
        try await FakeFanvueHarness.with { h in
            let tokens = h.fake.issueTokens(scopes: ["read:self", "offline_access"])
            #expect(try await h.api(.GET, "/users/me", bearer: tokens.access).status == 200)
            h.fake.expireAllAccessTokens()
            let expired = try await h.api(.GET, "/users/me", bearer: tokens.access)
            #expect(expired.status == 401)
            #expect(expired.header("WWW-Authenticate")?.contains("expired") == true)
            #expect(try await h.api(.GET, "/users/me").status == 401)

            let form = "grant_type=refresh_token&refresh_token=\(tokens.refresh)"
            let refreshed = try await h.plain(
                .POST, "/oauth2/token", body: Array(form.utf8),
                headers: [
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Authorization", "Basic " + Data("test-client:test-secret".utf8).base64EncodedString()),
                ])
            #expect(refreshed.status == 200)
            let access = try #require(refreshed.json?["access_token"]?.stringValue)
            #expect(try await h.api(.GET, "/users/me", bearer: access).status == 200)
            #expect(h.fake.calls.map(\.status) == [200, 401, 401, 200, 200])
        }
    }

    @Test func tokenLifetimeIsConfigurable() async throws {
        var configuration = FakeFanvue.Configuration()
        configuration.accessTokenLifetime = 5
        let time = FakeTime.manual()
        configuration.time = time
        try await FakeFanvueHarness.with(configuration) { h in
            let tokens = h.fake.issueTokens(scopes: FakeFanvueHarness.allScopes)
            #expect(tokens.expiresIn == 5)
            var statuses: [Int] = []
            for step in [0, 4.9, 0.2] {
                time.advance(by: step)
                statuses.append(Int(try await h.api(.GET, "/users/me", bearer: tokens.access).status))
            }
            #expect(statuses == [200, 200, 401], "valid at 0 and 4.9 s, expired after 5 s")
        }
    }
}
