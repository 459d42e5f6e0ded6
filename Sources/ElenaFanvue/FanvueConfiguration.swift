package import Foundation

/// How to reach Fanvue and who the app is. Read from the environment (or `ELENA_CONFIG_DIR/config.yaml`) by the CLI.
package struct FanvueConfiguration: Sendable, Hashable {
    /// The OAuth app's client id.
    package var clientID: String
    /// The OAuth app's client secret (sent as HTTP Basic to the token endpoint).
    package var clientSecret: String?
    /// The registered redirect URI; the login listener binds its port on 127.0.0.1.
    package var redirectURI: String
    /// The API base, e.g. `https://api.fanvue.com`.
    package var apiURL: String
    /// The OAuth server base, e.g. `https://auth.fanvue.com`.
    package var authURL: String
    /// The `X-Fanvue-API-Version` sent with every call.
    package var apiVersion: String
    /// Scopes asked at login.
    package var scopes: [String]
    /// Retries of 429, 5xx and dropped connections.
    package var retry: RetryPolicy
    /// Size of each uploaded part (at least 5 MiB except the last).
    package var partSize: Int
    /// Parts put to storage at once.
    package var parallelParts: Int
    /// How long one request may take.
    package var requestTimeout: TimeInterval

    /// The defaults the issue names.
    package static let defaultRedirectURI = "http://127.0.0.1:8723/callback"
    package static let defaultAPIURL = "https://api.fanvue.com"
    package static let defaultAuthURL = "https://auth.fanvue.com"
    package static let defaultScopes = [
        "openid", "offline_access", "offline", "read:self", "read:media", "write:media", "read:post", "write:post",
        "read:chat", "write:chat", "read:fan", "read:insights",
    ]

    /// Creates a configuration.
    package init(
        clientID: String, clientSecret: String?, redirectURI: String = FanvueConfiguration.defaultRedirectURI,
        apiURL: String = FanvueConfiguration.defaultAPIURL, authURL: String = FanvueConfiguration.defaultAuthURL,
        apiVersion: String = "2025-06-26", scopes: [String] = FanvueConfiguration.defaultScopes,
        retry: RetryPolicy = RetryPolicy(), partSize: Int = 8 * 1024 * 1024, parallelParts: Int = 3,
        requestTimeout: TimeInterval = 60
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.authURL = authURL.hasSuffix("/") ? String(authURL.dropLast()) : authURL
        self.apiVersion = apiVersion
        self.scopes = scopes
        self.retry = retry
        self.partSize = max(5 * 1024 * 1024, partSize)
        self.parallelParts = max(1, parallelParts)
        self.requestTimeout = requestTimeout
    }
}

/// Retries with jittered exponential backoff, capped.
package struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all (the first one included).
    package var maxAttempts: Int
    /// The first backoff.
    package var baseDelay: TimeInterval
    /// The longest single wait (also caps Retry-After).
    package var maxDelay: TimeInterval

    /// Creates a policy.
    package init(maxAttempts: Int = 7, baseDelay: TimeInterval = 0.5, maxDelay: TimeInterval = 30) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1`: base × 2^(attempt-1), with "full jitter" between half and all of it.
    package func delay(afterAttempt attempt: Int) -> TimeInterval {
        let exponential = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return Double.random(in: (exponential / 2)...max(exponential / 2, exponential))
    }
}
