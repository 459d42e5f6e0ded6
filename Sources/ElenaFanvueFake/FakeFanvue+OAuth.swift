import ElenaFakeServer
import Crypto
import ElenaCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/oauth2/auth` and `/oauth2/token`: authorization code with PKCE (S256 only), HTTP Basic client
/// authentication, rotating single-use refresh tokens with reuse detection.
extension FakeFanvue {
    /// The scopes Fanvue documents (`fanvue-api.md` §1.5).
    static let knownScopes: Set<String> = [
        "openid", "offline_access", "offline", "read:self", "read:chat", "write:chat", "read:fan", "read:creator",
        "write:creator", "read:media", "write:media", "read:post", "write:post", "read:insights",
        "read:tracking_links", "write:tracking_links", "read:agency", "write:agency",
    ]

    func addOAuthRoutes(to router: Router<FakeRequestContext>) {
        router.get("/oauth2/auth") { request, _ in self.authorize(request) }
        router.post("/oauth2/token") { request, context in self.token(request, body: context.body) }
    }

    /// The user "approves" at once: 302 to the redirect URI with a one-time code and the state.
    func authorize(_ request: Request) -> Response {
        let query = FakeHTTP.form(request.uri.query ?? "")
        guard query["client_id"] == configuration.clientID else {
            return Self.page("invalid_client", "The OAuth client '\(query["client_id"] ?? "")' is not registered.")
        }
        guard let redirect = query["redirect_uri"], configuration.redirectURIs.contains(redirect) else {
            return Self.page(
                "invalid_request", "The redirect_uri does not match any of the client's registered redirect URIs.")
        }
        guard query["response_type"] == "code" else {
            return Self.page("unsupported_response_type", "Only response_type=code is supported.")
        }
        guard let clientState = query["state"], !clientState.isEmpty else {
            return Self.page("invalid_state", "The state parameter is missing.")
        }
        guard let challenge = query["code_challenge"], Self.isPKCEText(challenge) else {
            return Self.page("invalid_request", "Clients must include a code_challenge (PKCE is required).")
        }
        guard query["code_challenge_method"] == "S256" else {
            return Self.page("invalid_request", "code_challenge_method must be S256.")
        }
        let scopes = (query["scope"] ?? "").split(separator: " ").map(String.init)
        if let unknown = scopes.first(where: { !Self.knownScopes.contains($0) }) {
            return Self.page("invalid_scope", "The scope '\(unknown)' is not allowed for this client.")
        }
        let code = "ory_ac_" + FakeRandom.token()
        state.withLock {
            $0.codes[code] = AuthorizationCode(
                redirectURI: redirect, scopes: scopes, challenge: challenge, expiresAt: configuration.time.now.addingTimeInterval(600))
        }
        let parameters = [("code", code), ("scope", scopes.joined(separator: " ")), ("state", clientState)]
        let location =
            redirect + (redirect.contains("?") ? "&" : "?")
            + parameters.map { "\($0)=\(FakeHTTP.encode($1))" }.joined(separator: "&")
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .found, headers: headers)
    }

    /// Code exchange and refresh.
    func token(_ request: Request, body: ByteBuffer) -> Response {
        guard let credentials = Self.basicCredentials(request.headers[.authorization]),
            credentials.id == configuration.clientID, credentials.secret == configuration.clientSecret
        else {
            return Self.oauthError(
                401, "invalid_client", "Client authentication failed (HTTP Basic with the client id and secret).",
                headers: [("WWW-Authenticate", "Basic realm=\"fanvue\"")])
        }
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return Self.oauthError(400, "invalid_request", "The body must be application/x-www-form-urlencoded.")
        }
        let form = FakeHTTP.form(String(buffer: body))
        if let id = form["client_id"], id != configuration.clientID {
            return Self.oauthError(401, "invalid_client", "client_id does not match the authenticated client.")
        }
        let now = configuration.time.now
        let lifetime = configuration.accessTokenLifetime
        let outcome: Result<(access: String, refresh: String?, scopes: [String]), FakeHTTPError>
        switch form["grant_type"] {
        case "authorization_code":
            guard let code = form["code"], let verifier = form["code_verifier"] else {
                return Self.oauthError(400, "invalid_request", "code and code_verifier are required.")
            }
            let redirect = form["redirect_uri"]
            outcome = state.withLock { state in
                guard var grant = state.codes[code], grant.expiresAt > now else {
                    return .failure(Self.invalidGrant("The authorization code is unknown or expired."))
                }
                guard !grant.used else {
                    if let family = grant.family { state.revoke(family: family) }
                    return .failure(Self.invalidGrant("The authorization code has already been used."))
                }
                guard redirect == grant.redirectURI else {
                    return .failure(Self.invalidGrant("redirect_uri does not match the authorization request."))
                }
                guard Self.isPKCEText(verifier), Self.challenge(for: verifier) == grant.challenge else {
                    return .failure(Self.invalidGrant("The PKCE code_verifier does not match the code_challenge."))
                }
                let family = FakeRandom.uuid()
                grant.used = true
                grant.family = family
                state.codes[code] = grant
                let pair = state.issue(
                    scopes: grant.scopes, family: family, refresh: grant.scopes.contains("offline_access"),
                    lifetime: lifetime, now: now)
                return .success((pair.access, pair.refresh, grant.scopes))
            }
        case "refresh_token":
            guard let token = form["refresh_token"] else {
                return Self.oauthError(400, "invalid_request", "refresh_token is required.")
            }
            outcome = state.withLock { state in
                guard let grant = state.refreshTokens[token], !state.revokedFamilies.contains(grant.family) else {
                    return .failure(Self.invalidGrant("The refresh token is unknown, revoked or expired."))
                }
                guard !grant.used else {
                    state.revoke(family: grant.family)
                    return .failure(
                        Self.invalidGrant(
                            "The refresh token has already been used; every token of this login is revoked."))
                }
                state.refreshTokens[token]?.used = true
                let pair = state.issue(
                    scopes: grant.scopes, family: grant.family, refresh: true, lifetime: lifetime, now: now)
                return .success((pair.access, pair.refresh, grant.scopes))
            }
        case nil:
            return Self.oauthError(400, "invalid_request", "grant_type is required.")
        case let other?:
            return Self.oauthError(400, "unsupported_grant_type", "The grant type '\(other)' is not supported.")
        }
        switch outcome {
        case .failure(let error):
            return error.response
        case .success(let issued):
            let answer = JSONValue.object([
                "access_token": .string(issued.access),
                "expires_in": .int(Int(lifetime.rounded())),
                "refresh_token": issued.refresh.map(JSONValue.string),
                "scope": .string(issued.scopes.joined(separator: " ")),
                "token_type": .string("Bearer"),
            ])
            return FakeHTTP.json(200, answer, headers: [("Cache-Control", "no-store"), ("Pragma", "no-cache")])
        }
    }

    // MARK: Helpers

    /// `base64url(SHA-256(verifier))` without padding.
    static func challenge(for verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// RFC 7636: 43–128 characters from `[A-Za-z0-9-._~]`.
    static func isPKCEText(_ text: String) -> Bool {
        (43...128).contains(text.count)
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-._~".unicodeScalars.contains($0))
            }
    }

    /// `Authorization: Basic base64(id:secret)` (each part may be form-encoded, RFC 6749 §2.3.1).
    static func basicCredentials(_ header: String?) -> (id: String, secret: String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        func decode(_ part: Substring) -> String {
            let spaced = part.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        return (decode(text[..<colon]), decode(text[text.index(after: colon)...]))
    }

    static func invalidGrant(_ description: String) -> FakeHTTPError {
        FakeHTTPError(
            status: 400,
            body: JSONValue.object(["error": .string("invalid_grant"), "error_description": .string(description)])
                .serialized(),
            headers: [("Cache-Control", "no-store")])
    }

    static func oauthError(
        _ status: Int, _ error: String, _ description: String, headers: [(String, String)] = []
    ) -> Response {
        FakeHTTP.json(
            status, .object(["error": .string(error), "error_description": .string(description)]),
            headers: headers + [("Cache-Control", "no-store")])
    }

    /// The 400 page the authorization server shows instead of redirecting.
    static func page(_ error: String, _ description: String) -> Response {
        let html =
            "<!doctype html><title>OAuth error</title><h1>\(FakeHTTP.escapeXML(error))</h1><p>"
            + FakeHTTP.escapeXML(description) + "</p>\n"
        return FakeHTTP.respond(400, html, type: "text/html; charset=utf-8")
    }
}
