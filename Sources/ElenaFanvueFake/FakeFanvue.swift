import Crypto
package import ElenaCore
package import Foundation
import ElenaFakeServer
import Hummingbird
import Logging
import NIOCore

/// A fake of the Fanvue creator API, its OAuth server and its upload storage, for tests: a real Hummingbird
/// server on `127.0.0.1` (a free port), so clients are exercised over real sockets. Behaviour follows
/// `fanvue-api.md`; where that says [G] (unknown), the fake chooses as follows.
///
/// Choices for the unknowns ([G]):
/// - A missing `X-Fanvue-API-Version` gets the same 400 as an unsupported one; only `Configuration.apiVersion` is
///   supported. The version is checked before the bearer, and neither a version error nor a 401 spends a
///   rate-limit token.
/// - Order of the gate: recorded → delay → dropped connection → injected status → rate-limit storm → version →
///   bearer → token bucket → route (scope check, then validation). Injected faults and storms come from "the
///   network", before authentication, and spend no rate-limit token; a 403 (missing scope) does spend one.
/// - Every API answer carries the `X-RateLimit-*` headers; an answer that identifies nobody (400 version, 401,
///   injected faults) describes the bucket of the bearer if it is valid, else an untouched bucket.
///   `X-RateLimit-Reset` is the Unix second (rounded up) at which the bucket is refilled; the bucket is refilled
///   `rateWindow` seconds after it was last (re)filled.
/// - Tokens are opaque (`ory_at_…`, `ory_rt_…`, `ory_ac_…`, Hydra's prefixes), not JWTs. Authorization codes live
///   10 minutes. Replaying a code revokes the tokens issued from it, like reusing a spent refresh token.
///   `/oauth2/auth` answers every error (unknown client, redirect URI, response type, missing state, PKCE, unknown
///   scope) with a 400 HTML page rather than redirecting; only Fanvue's documented scopes are accepted. A refresh
///   keeps the scopes of the login. `issueTokens` always returns a refresh token (a test helper).
/// - Errors of `/oauth2/token` are `{"error", "error_description"}` (RFC 6749, as Hydra answers).
/// - Uploads: `uploadId` is opaque hex; presigned URLs do not expire; a part may be put again (the last bytes win);
///   completion needs a non-empty `parts` list numbered 1…n in order, every part stored, each `ETag` present and
///   equal to the stored one (with or without its quotes, as S3 accepts); parts stored but not listed are
///   discarded. Completing twice, or asking a part URL after completion, is a 400 `{message}`.
/// - Storage answers S3-style XML errors: a request with an `Authorization` header is a 400 `InvalidArgument`, a
///   bad signature a 403 `SignatureDoesNotMatch`, an unknown or completed upload a 404 `NoSuchUpload`.
/// - Processed media is downloadable: each variant URL (`GET /media/{uuid}?variants=…`) serves the uploaded bytes;
///   `width`/`height` come from the image header, `lengthMs` is null.
/// - Vault: `GET /vault/folders` takes `page`/`size` (default 15) and lists folders in creation order; names match
///   exactly (case-sensitive). Adding media that is not `ready` (or unknown) is a 400 `{message}` and adds nothing;
///   `addedCount` counts only media not already in the folder (a uuid repeated in one request counts once).
/// - Posts and messages: `price` must be a whole number of cents ≥ 300 and needs at least one media; a post or
///   message needs text or media; every media must exist and be `ready` (400 `{message}` otherwise); times are
///   ISO 8601 and `publishAt`/`scheduledAt` must be in the future. Any well-formed user uuid is contactable.
/// - Mass messages: `includedLists` needs at least one list id; the recipients are the members of the included
///   lists (smart lists: see `FakeFanvue+Lists.swift`) minus those of `excludedLists`; an unknown list is refused.
///   Their lifecycle and the chat history are in `FakeFanvue+History.swift`.
/// - Message lists are newest first; `purchasedAt` is the `date` of a seeded earning with that `messageUuid`.
///   Earnings are listed newest `date` first; the cursor is an opaque offset.
/// - Faults act before the route: a request that is dropped or gets an injected status has no effect (nothing is
///   created, no part stored, no token spent), so retrying it is always safe. A delayed request is then served.
/// - Dropped connections are recorded with status 0.
package final class FakeFanvue: Sendable {
    /// How the fake behaves.
    package let configuration: Configuration
    let state: Locked<FakeState>
    /// Key of the presigned-URL signatures.
    let signingKey: [UInt8]

    /// The largest request body read (bigger ones get 413).
    static let maximumBodySize = 256 * 1024 * 1024

    /// Creates a fake (not listening yet: call `start()`).
    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.state = Locked(FakeState())
        var generator = SystemRandomNumberGenerator()
        self.signingKey = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    // MARK: Lifecycle

    /// Starts listening on `127.0.0.1` on a free port; returns once the server accepts connections.
    /// - Throws: when the server cannot bind.
    package func start() async throws {
        guard state.withLock({ $0.server == nil }) else { return }
        let running = try await LoopbackServer.start("the fake Fanvue server") { running in
            Application(
                router: makeRouter(),
                configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "fake-fanvue"),
                onServerRunning: running,
                logger: Logger(label: "elena.fanvue.fake", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
        state.withLock {
            $0.port = running.port
            $0.server = running
        }
    }

    /// Stops the server and waits until it has closed.
    /// - Returns: whether a graceful shutdown closed it (false: it had to be cancelled; see `LoopbackServer`).
    @discardableResult
    package func stop() async -> Bool {
        let running = state.withLock { state -> LoopbackServer.Running? in
            defer { state.server = nil }
            return state.server
        }
        return await running?.stop() ?? true
    }

    /// The port listened on (0 before `start()`).
    package var port: Int { state.withLock { $0.port ?? 0 } }

    /// `http://127.0.0.1:<port>`: the API, `/oauth2/*` and `/storage/*`.
    package var baseURL: String { "http://127.0.0.1:\(port)" }

    // MARK: Tokens

    /// Issues tokens without the OAuth dance, for tests that start logged in. Always includes a refresh token.
    /// - Parameter scopes: the scopes granted.
    /// - Returns: the access token, the refresh token, and the access token's lifetime in seconds.
    package func issueTokens(scopes: [String]) -> (access: String, refresh: String, expiresIn: Int) {
        let lifetime = configuration.accessTokenLifetime
        let pair = state.withLock {
            $0.issue(scopes: scopes, family: FakeRandom.uuid(), refresh: true, lifetime: lifetime, now: configuration.time.now)
        }
        return (pair.access, pair.refresh ?? "", Int(lifetime.rounded()))
    }

    /// Makes every access token issued so far expired (refresh tokens stay valid).
    package func expireAllAccessTokens() {
        let past = Date(timeIntervalSince1970: 0)
        state.withLock { state in
            for key in state.accessTokens.keys { state.accessTokens[key]?.expiresAt = past }
        }
    }

    // MARK: Faults

    /// The next `count` requests whose path starts with `pathPrefix` (and with `method`, if given) get `status`,
    /// with a body shaped like the real service's for that status.
    package func failNext(_ count: Int, status: Int, pathPrefix: String? = nil, method: String? = nil) {
        guard count > 0 else { return }
        state.withLock {
            $0.failures.append(Fault(remaining: count, pathPrefix: pathPrefix, method: method, status: status))
        }
    }

    /// The next `count` matching requests are read in full, then their TCP connection is closed without an answer.
    package func dropNextConnections(_ count: Int, pathPrefix: String? = nil, method: String? = nil) {
        guard count > 0 else { return }
        state.withLock { $0.drops.append(Fault(remaining: count, pathPrefix: pathPrefix, method: method)) }
    }

    /// The next `count` matching requests are answered `seconds` late.
    package func delayNext(_ count: Int, by seconds: TimeInterval, pathPrefix: String? = nil) {
        guard count > 0 else { return }
        state.withLock { $0.delays.append(Fault(remaining: count, pathPrefix: pathPrefix, seconds: seconds)) }
    }

    /// The next `count` API requests (not OAuth, not storage) get 429 with `Retry-After: 1`, or with the given
    /// value, or with no `Retry-After` at all when `retryAfter` is nil.
    package func rateLimitStorm(_ count: Int, retryAfter: String? = "1") {
        state.withLock {
            $0.storm += max(0, count)
            $0.stormRetryAfter = retryAfter
        }
    }

    /// The next `count` matching requests are carried out (the fake acts on them), then their connection is closed
    /// before the answer is written: the client cannot know that it worked.
    package func dropNextAnswers(_ count: Int, pathPrefix: String? = nil, method: String? = nil) {
        guard count > 0 else { return }
        state.withLock { $0.answerDrops.append(Fault(remaining: count, pathPrefix: pathPrefix, method: method)) }
    }

    // MARK: What happened

    /// Every request, in arrival order.
    package var calls: [Call] { state.withLock { $0.calls } }

    /// Every media created, in creation order.
    package var media: [Media] {
        state.withLock { state in state.mediaOrder.compactMap { state.media[$0]?.info } }
    }

    /// Vault folder name → media uuids, in attach order.
    package var folders: [String: [String]] {
        state.withLock { state in state.folders.mapValues(\.media) }
    }

    /// Each created post as received, plus the `uuid` and `createdAt` assigned.
    package var posts: [JSONValue] { state.withLock { $0.posts } }

    /// Each message sent: `{fanUuid, text, mediaUuids, price, messageUuid, sentAt}`.
    package var messages: [JSONValue] { state.withLock { $0.messages } }

    /// Each mass message as received, plus `id`, `recipientCount` and `createdAt`.
    package var massMessages: [JSONValue] { state.withLock { $0.massMessages } }

    /// The bytes received for a media, once its upload is completed.
    package func uploadedBytes(_ uuid: String) -> [UInt8]? { state.withLock { $0.media[uuid]?.bytes } }

    // MARK: Seeding

    /// Adds an item to `GET /insights/earnings` (`{date, gross, net, currency, source, messageUuid?, postUuid?,
    /// user{uuid,handle,…}}`); a `messageUuid` also sets that message's `purchasedAt`.
    package func seedEarning(_ earning: JSONValue) { state.withLock { $0.earnings.append(earning) } }

    /// Adds fans to `GET /subscribers` (`{uuid, handle, displayName, …}`).
    package func seedSubscribers(_ fans: [JSONValue]) { state.withLock { $0.subscribers.append(contentsOf: fans) } }

    /// Adds a custom list with these members; returns its uuid.
    @discardableResult
    package func seedCustomList(name: String, members: [String]) -> String {
        let uuid = FakeRandom.uuid()
        state.withLock { $0.customLists.append((uuid, name, members)) }
        return uuid
    }

    /// The fan buys a pay-per-view message (its price, 80% net): adds the earning and sets `purchasedAt`.
    /// Returns the transaction id.
    @discardableResult
    package func purchase(message uuid: String, at date: Date? = nil) throws -> String {
        let (fan, price) = try state.withLock { state throws -> (String, Int) in
            guard let message = state.messages.first(where: { $0["messageUuid"]?.stringValue == uuid }),
                let fan = message["fanUuid"]?.stringValue
            else { throw FakeFanvueError(description: "no message \(uuid) to purchase") }
            return (fan, message["price"]?.intValue ?? 0)
        }
        return seedPurchase(source: "message", fan: fan, gross: price, reference: ("messageUuid", uuid), at: date ?? configuration.time.now)
    }

    /// The fan unlocks a priced post (its price, 80% net). Returns the transaction id.
    @discardableResult
    package func purchase(post uuid: String, by fan: String, at date: Date? = nil) throws -> String {
        guard let post = posts.first(where: { $0["uuid"]?.stringValue == uuid }) else {
            throw FakeFanvueError(description: "no post \(uuid) to purchase")
        }
        return seedPurchase(source: "post", fan: fan, gross: post["price"]?.intValue ?? 0, reference: ("postUuid", uuid), at: date ?? configuration.time.now)
    }

    private func seedPurchase(source: String, fan: String, gross: Int, reference: (String, String), at date: Date) -> String {
        let id = "txn_" + FakeRandom.token(bytes: 8)
        seedEarning(
            .object([
                "date": FakeHTTP.time(date), "gross": .int(gross), "net": .int(gross * 8 / 10), "currency": .string("USD"),
                "source": .string(source), reference.0: .string(reference.1), "transactionOrderId": .string(id),
                "transactionOrderStatus": .string("pendingBalance"),
                "user": .object(["uuid": .string(fan), "handle": .string("fan-" + fan.prefix(6))]),
            ]))
        return id
    }

    /// Reverses a purchase (its whole amount): a `chargeback` (the fan's bank took it back) or a `refund`, as a row of
    /// `GET /insights/spending` with negative amounts and the purchase's message or post. Returns its id.
    @discardableResult
    package func reverse(_ transaction: String, as type: String = "chargeback", at date: Date? = nil) throws -> String {
        try state.withLock { state throws -> String in
            guard let earning = state.earnings.first(where: { $0["transactionOrderId"]?.stringValue == transaction }) else {
                throw FakeFanvueError(description: "no purchase \(transaction) to reverse")
            }
            let id = "\(type)_" + FakeRandom.token(bytes: 6)
            var members: [JSONValue.Member] = [
                .init("date", FakeHTTP.time(date ?? configuration.time.now)),
                .init("gross", .int(-(earning["gross"]?.intValue ?? 0))), .init("net", .int(-(earning["net"]?.intValue ?? 0))),
                .init("currency", earning["currency"] ?? .string("USD")), .init("type", .string(type)),
                .init("transactionOrderId", .string(id)), .init("user", earning["user"] ?? .null),
            ]
            for key in ["messageUuid", "postUuid"] { if let value = earning[key] { members.append(.init(key, value)) } }
            state.spending.append(.object(members))
            return id
        }
    }

    /// Makes a media's processing end in `error` (at once if it is already `ready`).
    package func markMediaFailed(_ uuid: String) {
        state.withLock { state in
            state.media[uuid]?.failOnFinish = true
            if state.media[uuid]?.info.status == .ready { state.media[uuid]?.info.status = .error }
        }
    }
}

/// The fake server could not start.
package struct FakeFanvueError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    package var description: String
}

// MARK: - Used by the gate and the routes

extension FakeFanvue {
    /// The rate-limit bucket of this fake's one client and user.
    var bucketKey: String { "\(configuration.clientID):\(configuration.userUUID)" }

    func record(_ call: Call) -> Int {
        state.withLock { state in
            state.calls.append(call)
            return state.calls.count - 1
        }
    }

    func finish(_ index: Int, status: Int) {
        state.withLock { state in
            if state.calls.indices.contains(index) { state.calls[index].status = status }
        }
    }

    /// Takes one use of each kind of armed fault that matches.
    func takeFaults(path: String, method: String, api: Bool) -> (
        delay: TimeInterval?, drop: Bool, status: Int?, storm: Bool, dropAnswer: Bool
    ) {
        state.withLock { state in
            let delay = FakeState.take(&state.delays, path: path, method: method)?.seconds
            let drop = FakeState.take(&state.drops, path: path, method: method) != nil
            guard !drop else { return (delay, true, nil, false, false) }
            let dropAnswer = FakeState.take(&state.answerDrops, path: path, method: method) != nil
            let status = FakeState.take(&state.failures, path: path, method: method)?.status
            var storm = false
            if status == nil, api, state.storm > 0 {
                state.storm -= 1
                storm = true
            }
            return (delay, false, status, storm, dropAnswer)
        }
    }

    /// `Retry-After` of storm answers (nil: none).
    var stormRetryAfter: String? { state.withLock { $0.stormRetryAfter } }

    func checkBearer(_ token: String?) -> BearerCheck {
        let key = bucketKey
        return state.withLock { $0.check(bearer: token, bucketKey: key, now: configuration.time.now) }
    }

    func takeRate(_ key: String) -> RateDecision {
        let (limit, window) = (configuration.rateLimit, configuration.rateWindow)
        return state.withLock { $0.rate(key: key, limit: limit, window: window, now: configuration.time.now, consume: true) }
    }

    /// The bucket of `bearer` if it is a valid token, else a full one; nothing is spent.
    func peekRate(bearer: String?) -> RateDecision {
        let now = configuration.time.now
        let (limit, window, key) = (configuration.rateLimit, configuration.rateWindow, bucketKey)
        return state.withLock { state in
            guard case .valid = state.check(bearer: bearer, bucketKey: key, now: now) else {
                return RateDecision(
                    allowed: true, limit: limit, remaining: limit, resetAt: now.addingTimeInterval(window))
            }
            return state.rate(key: key, limit: limit, window: window, now: now, consume: false)
        }
    }

    /// 403 `{error}` unless the caller's token has every scope in `scopes`.
    func require(_ scopes: String..., in context: FakeRequestContext) throws(FakeHTTPError) {
        guard configuration.enforceScopes else { return }
        let granted = context.principal?.scopes ?? []
        let missing = scopes.filter { !granted.contains($0) }
        guard missing.isEmpty else {
            throw .error(403, "Forbidden: the token lacks the scope \(missing.joined(separator: " and "))")
        }
    }

    /// Hex HMAC-SHA256 of `text` with the signing key.
    func sign(_ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: signingKey))
        return FakeRandom.hex(code)
    }

    /// The route table.
    func makeRouter() -> Router<FakeRequestContext> {
        let router = Router(context: FakeRequestContext.self)
        router.add(middleware: FakeGate(fake: self))
        addOAuthRoutes(to: router)
        addStorageRoutes(to: router)
        addMediaRoutes(to: router)
        addVaultRoutes(to: router)
        addPostRoutes(to: router)
        addChatRoutes(to: router)
        addAccountRoutes(to: router)
        return router
    }
}
