import Foundation

/// Hands out a valid access token: refreshes it shortly before it expires (and once more on a 401), saving the
/// rotated refresh token to disk before the new access token is used. One refresh at a time.
package actor TokenProvider {
    let store: TokenStore
    let oauth: OAuthClient
    private var tokens: TokenSet?
    private var loaded = false
    /// The refresh in flight, if any.
    private var refreshing: Task<String, any Error>?
    /// Refresh this long before the access token expires.
    let margin: TimeInterval = 120

    /// Creates a provider reading and writing `store`.
    package init(store: TokenStore, oauth: OAuthClient) {
        self.store = store
        self.oauth = oauth
    }

    /// Whether tokens are saved.
    package func current() throws -> TokenSet? {
        if !loaded {
            tokens = try store.load()
            loaded = true
        }
        return tokens
    }

    /// A usable access token.
    /// - Parameter rejected: a token the server just refused (401): it is refreshed even if not yet expired.
    /// - Throws: `FanvueError.authentication` when not logged in or the refresh is refused.
    package func accessToken(rejected: String? = nil) async throws -> String {
        guard let tokens = try current() else {
            throw FanvueError(.authentication, message: "no saved login", request: "token")
        }
        let stale = tokens.expiresAt.timeIntervalSinceNow < margin
        if !stale && rejected != tokens.accessToken { return tokens.accessToken }
        // Single flight: the actor is reentrant while the refresh is awaited, so callers arriving meanwhile (eight
        // uploads all told 401) wait for that one refresh. Refreshing twice would present the rotated refresh token
        // a second time, which a rotating server takes as theft and answers by revoking the whole login.
        if let refreshing { return try await refreshing.value }
        guard let refresh = tokens.refreshToken else {
            throw FanvueError(.authentication, message: "the access token expired and there is no refresh token", request: "token")
        }
        let task = Task { try await self.refresh(with: refresh) }
        refreshing = task
        defer { refreshing = nil }
        return try await task.value
    }

    private func refresh(with refresh: String) async throws -> String {
        let renewed = try await oauth.refresh(refresh)
        var next = renewed
        if next.refreshToken == nil { next.refreshToken = refresh }
        // The old refresh token is dead from now on (rotation): save before anything else can fail.
        try store.save(next)
        self.tokens = next
        return next.accessToken
    }
}
