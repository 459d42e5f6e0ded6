package import ElenaFakeServer
package import Foundation

extension FakeFanvue {
    /// How the fake behaves: the registered OAuth app, token lifetime, processing time, the rate limit and the
    /// account it pretends to be. The defaults follow the real service where it is known (`fanvue-api.md`).
    package struct Configuration: Sendable {
        /// The registered OAuth client id.
        package var clientID = "test-client"
        /// The client secret, checked with HTTP Basic at `/oauth2/token`.
        package var clientSecret = "test-secret"
        /// Registered redirect URIs; `/oauth2/auth` and the code exchange require an exact match.
        package var redirectURIs: [String] = ["http://127.0.0.1:8723/callback"]
        /// Seconds an access token is valid (`expires_in`).
        package var accessTokenLifetime: TimeInterval = 3600
        /// `GET /media/{uuid}` answers `processing` this many times after completion, then `ready`.
        package var readyAfterPolls = 1
        /// …and not before this many seconds after completion.
        package var readyAfterSeconds: TimeInterval = 0
        /// Requests per window in the token bucket of each `client:user`.
        package var rateLimit = 200
        /// Seconds after which the bucket is refilled to `rateLimit`.
        package var rateWindow: TimeInterval = 60
        /// The only `X-Fanvue-API-Version` accepted.
        package var apiVersion = "2025-06-26"
        /// The creator the tokens belong to.
        package var userUUID = "5f0c2a4e-8b1d-4c7e-9a36-2d9e0b7f41c3"
        /// The creator's handle.
        package var handle = "elena"
        /// Every part of a multipart upload but the last must have at least this many bytes (S3's 5 MiB).
        package var minimumPartSize = 5 * 1024 * 1024
        /// Seconds every answer waits after its route has acted, before it is sent: a client killed (or timed out)
        /// meanwhile never hears of a change the fake has already made.
        package var answerDelay: TimeInterval = 0
        /// Whether a token without a route's scope gets 403 (the real API does; turn off to test only the flow).
        package var enforceScopes = true
        /// The fake's clock: token expiry, rate windows, readiness and injected delays follow it.
        /// `FakeTime.manual()` lets a test move time forward instead of sleeping.
        package var time = FakeTime.system

        /// The defaults.
        package init() {}
    }
}
