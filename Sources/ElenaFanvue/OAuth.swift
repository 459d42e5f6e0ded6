import AsyncHTTPClient
import Crypto
import ElenaCore
package import Foundation
import NIOCore
import NIOHTTP1

/// PKCE (RFC 7636, S256): a random verifier and its SHA-256 challenge.
package struct PKCE: Sendable {
    /// Sent with the token exchange.
    package let verifier: String
    /// Sent with the authorize request.
    package let challenge: String

    /// A fresh pair.
    package init() {
        self.init(verifier: Self.randomString(64))
    }

    /// The pair for a given verifier.
    package init(verifier: String) {
        self.verifier = verifier
        self.challenge = Self.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static let unreserved = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Random text from the unreserved characters.
    package static func randomString(_ length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in unreserved[Int.random(in: 0..<unreserved.count, using: &generator)] })
    }

    /// Base64 with `-_` and no padding.
    package static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// The OAuth 2 endpoints: authorize URL, code exchange, refresh.
package struct OAuthClient: Sendable {
    let configuration: FanvueConfiguration

    /// Creates a client.
    package init(configuration: FanvueConfiguration) { self.configuration = configuration }

    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// The URL the user opens to approve the app.
    package func authorizeURL(state: String, pkce: PKCE) -> String {
        let parameters: [(String, String)] = [
            ("response_type", "code"), ("client_id", configuration.clientID), ("redirect_uri", configuration.redirectURI),
            ("scope", configuration.scopes.joined(separator: " ")), ("state", state),
            ("code_challenge", pkce.challenge), ("code_challenge_method", "S256"),
        ]
        return configuration.authURL + "/oauth2/auth?" + parameters.map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")
    }

    /// Exchanges an authorization code.
    package func exchange(code: String, pkce: PKCE, now: Date = Date()) async throws -> TokenSet {
        try await token([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", configuration.redirectURI),
            ("client_id", configuration.clientID), ("code_verifier", pkce.verifier),
        ], now: now)
    }

    /// Uses a refresh token (single use: the answer carries the next one).
    package func refresh(_ refreshToken: String, now: Date = Date()) async throws -> TokenSet {
        try await token([
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", configuration.clientID),
        ], now: now)
    }

    private func token(_ form: [(String, String)], now: Date) async throws -> TokenSet {
        var request = HTTPClientRequest(url: configuration.authURL + "/oauth2/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let secret = configuration.clientSecret {
            let credentials = Data("\(configuration.clientID):\(secret)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        }
        let body = form.map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        let label = "POST /oauth2/token"
        let response: HTTPClientResponse
        let text: String
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(configuration.requestTimeout)))
            text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        } catch {
            throw FanvueError(.connection, message: "\(error)", request: label)
        }
        guard response.status.code == 200 else {
            let kind: FanvueError.Kind = response.status.code == 400 || response.status.code == 401 ? .authentication : .http
            throw FanvueError(kind, status: Int(response.status.code), message: FanvueError.message(fromBody: text), request: label)
        }
        guard let json = try? JSONValue.parse(text), let access = json["access_token"]?.stringValue else {
            throw FanvueError(.protocolError, message: "the token answer has no access_token", request: label)
        }
        let expiresIn = json["expires_in"]?.doubleValue ?? 3600
        return TokenSet(
            accessToken: access, refreshToken: json["refresh_token"]?.stringValue,
            expiresAt: now.addingTimeInterval(expiresIn), scope: json["scope"]?.stringValue,
            tokenType: json["token_type"]?.stringValue ?? "Bearer", obtainedAt: now)
    }
}
