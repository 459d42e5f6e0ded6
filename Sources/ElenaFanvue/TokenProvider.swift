import Foundation

/// Hands out a valid access token: refreshes it shortly before it expires (and once more on a 401), saving the
/// rotated refresh token to disk before the new access token is used. One refresh at a time.
public actor TokenProvider {
    let store: TokenStore
    let oauth: OAuthClient
    private var tokens: TokenSet?
    private var loaded = false
    /// Refresh this long before the access token expires.
    let margin: TimeInterval = 120

    /// Creates a provider reading and writing `store`.
    public init(store: TokenStore, oauth: OAuthClient) {
        self.store = store
        self.oauth = oauth
    }

    /// Whether tokens are saved.
    public func current() throws -> TokenSet? {
        if !loaded {
            tokens = try store.load()
            loaded = true
        }
        return tokens
    }

    /// A usable access token.
    /// - Parameter rejected: a token the server just refused (401): it is refreshed even if not yet expired.
    /// - Throws: `FanvueError.authentication` when not logged in or the refresh is refused.
    public func accessToken(rejected: String? = nil) async throws -> String {
        guard let tokens = try current() else {
            throw FanvueError(.authentication, message: "no saved login", request: "token")
        }
        let stale = tokens.expiresAt.timeIntervalSinceNow < margin
        if !stale && rejected != tokens.accessToken { return tokens.accessToken }
        guard let refresh = tokens.refreshToken else {
            throw FanvueError(.authentication, message: "the access token expired and there is no refresh token", request: "token")
        }
        let renewed = try await oauth.refresh(refresh)
        var next = renewed
        if next.refreshToken == nil { next.refreshToken = refresh }
        // The old refresh token is dead from now on (rotation): save before anything else can fail.
        try store.save(next)
        self.tokens = next
        return next.accessToken
    }
}
