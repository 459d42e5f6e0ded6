import ElenaCore
import Foundation
import ElenaFakeServer

/// Everything the fake knows, kept behind one lock (`FakeFanvue.state`). Plain values only; the request handlers
/// take the lock, read or change the state, and release it before writing their answer.
struct FakeState {
    var port: Int?
    var server: LoopbackServer.Running?
    var calls: [FakeFanvue.Call] = []

    // OAuth
    var codes: [String: AuthorizationCode] = [:]
    var accessTokens: [String: AccessGrant] = [:]
    var refreshTokens: [String: RefreshGrant] = [:]
    var revokedFamilies: Set<String> = []

    // Faults and limits
    var failures: [Fault] = []
    var drops: [Fault] = []
    var delays: [Fault] = []
    var storm = 0
    var stormRetryAfter: String? = "1"
    var answerDrops: [Fault] = []
    var buckets: [String: Bucket] = [:]

    // Content
    var uploads: [String: String] = [:]
    var mediaOrder: [String] = []
    var media: [String: MediaRecord] = [:]
    var folderOrder: [String] = []
    var folders: [String: Folder] = [:]
    var posts: [JSONValue] = []
    var messages: [JSONValue] = []
    var massMessages: [JSONValue] = []
    var earnings: [JSONValue] = []
    /// Refunds and chargebacks (`GET /insights/spending`).
    var spending: [JSONValue] = []
    var subscribers: [JSONValue] = [] {
        didSet { subscriberByUUID = Dictionary(subscribers.compactMap { fan in fan["uuid"]?.stringValue.map { ($0, fan) } }, uniquingKeysWith: { first, _ in first }) }
    }
    /// The subscribers by uuid (kept with `subscribers`).
    private(set) var subscriberByUUID: [String: JSONValue] = [:]
    /// Custom lists by uuid: name and member uuids.
    var customLists: [(uuid: String, name: String, members: [String])] = []
}

/// A one-time code handed out by `/oauth2/auth`.
struct AuthorizationCode {
    var redirectURI: String
    var scopes: [String]
    var challenge: String
    var expiresAt: Date
    var used = false
    /// The token family issued from it (revoked if the code is replayed).
    var family: String?
}

/// An access token. Every token issued from one login (one code) shares a `family`.
struct AccessGrant {
    var scopes: [String]
    var expiresAt: Date
    var family: String
}

/// A refresh token: single use; using a spent one revokes its family.
struct RefreshGrant {
    var scopes: [String]
    var family: String
    var used = false
}

/// One armed fault: applies to the next `remaining` requests matching `pathPrefix` and `method`.
struct Fault {
    var remaining: Int
    var pathPrefix: String?
    var method: String?
    var status = 0
    var seconds: TimeInterval = 0

    func matches(path: String, method: String) -> Bool {
        (pathPrefix.map { path.hasPrefix($0) } ?? true) && (self.method.map { $0.uppercased() == method } ?? true)
    }
}

/// The token bucket of one `client:user`.
struct Bucket {
    var remaining: Int
    var resetAt: Date
}

/// A media item with the bytes behind it.
struct MediaRecord {
    var info: FakeFanvue.Media
    var partBytes: [Int: [UInt8]] = [:]
    var bytes: [UInt8]?
    var completed = false
    var completedAt: Date?
    var polls = 0
    var failOnFinish = false
}

/// A vault folder.
struct Folder {
    var name: String
    var createdAt: Date
    var media: [String] = []
}

/// Who is calling an API route.
struct FakePrincipal: Sendable {
    var token: String
    var scopes: Set<String>
    var bucketKey: String
}

/// The outcome of reading a bearer token.
enum BearerCheck {
    case valid(FakePrincipal)
    case missing
    case unknown
    case expired
}

/// What the rate limiter says about one request.
struct RateDecision {
    var allowed: Bool
    var limit: Int
    var remaining: Int
    var resetAt: Date
}

// MARK: - Faults

extension FakeState {
    /// Takes one use of the first armed fault in `list` that matches.
    static func take(_ list: inout [Fault], path: String, method: String) -> Fault? {
        guard let index = list.firstIndex(where: { $0.remaining > 0 && $0.matches(path: path, method: method) }) else {
            return nil
        }
        let fault = list[index]
        list[index].remaining -= 1
        if list[index].remaining <= 0 { list.remove(at: index) }
        return fault
    }
}

// MARK: - Tokens

extension FakeState {
    /// Issues an access token (and a refresh token when asked) in `family`.
    mutating func issue(
        scopes: [String], family: String, refresh: Bool, lifetime: TimeInterval, now: Date
    ) -> (access: String, refresh: String?) {
        let access = "ory_at_" + FakeRandom.token()
        accessTokens[access] = AccessGrant(scopes: scopes, expiresAt: now.addingTimeInterval(lifetime), family: family)
        guard refresh else { return (access, nil) }
        let refreshToken = "ory_rt_" + FakeRandom.token()
        refreshTokens[refreshToken] = RefreshGrant(scopes: scopes, family: family)
        return (access, refreshToken)
    }

    /// Revokes every token of a family (reuse detection).
    mutating func revoke(family: String) {
        revokedFamilies.insert(family)
        accessTokens = accessTokens.filter { $0.value.family != family }
    }

    /// Checks `Authorization: Bearer <token>`.
    func check(bearer: String?, bucketKey: String, now: Date) -> BearerCheck {
        guard let bearer else { return .missing }
        guard let grant = accessTokens[bearer], !revokedFamilies.contains(grant.family) else { return .unknown }
        guard grant.expiresAt > now else { return .expired }
        return .valid(FakePrincipal(token: bearer, scopes: Set(grant.scopes), bucketKey: bucketKey))
    }
}

// MARK: - Rate limit

extension FakeState {
    /// Takes a token from the bucket (or only looks, with `consume: false`). The bucket is refilled to `limit`
    /// once `window` has passed since it was (re)filled.
    mutating func rate(key: String, limit: Int, window: TimeInterval, now: Date, consume: Bool) -> RateDecision {
        var bucket = buckets[key] ?? Bucket(remaining: limit, resetAt: now.addingTimeInterval(window))
        if now >= bucket.resetAt { bucket = Bucket(remaining: limit, resetAt: now.addingTimeInterval(window)) }
        var allowed = true
        if consume {
            if bucket.remaining > 0 { bucket.remaining -= 1 } else { allowed = false }
        }
        buckets[key] = bucket
        return RateDecision(allowed: allowed, limit: limit, remaining: bucket.remaining, resetAt: bucket.resetAt)
    }
}

// MARK: - Media processing

extension FakeState {
    /// Moves a completed media from `processing` to `ready` (or `error`) once it has been polled enough times and
    /// enough time has passed; a poll that finds it still processing is counted when `countPoll`.
    @discardableResult
    mutating func settle(
        _ uuid: String, readyAfterPolls: Int, readyAfterSeconds: TimeInterval, now: Date, countPoll: Bool
    ) -> FakeFanvue.Media.Status? {
        guard var record = media[uuid] else { return nil }
        if record.info.status == .processing, let completedAt = record.completedAt {
            if record.polls >= readyAfterPolls && now.timeIntervalSince(completedAt) >= readyAfterSeconds {
                record.info.status = record.failOnFinish ? .error : .ready
            } else if countPoll {
                record.polls += 1
            }
            media[uuid] = record
        }
        return record.info.status
    }
}

/// Random ids and secrets.
enum FakeRandom {
    /// `bytes` random bytes as lowercase hex.
    static func token(bytes: Int = 24) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in hex(UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A lowercase UUID.
    static func uuid() -> String { UUID().uuidString.lowercased() }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }

    /// Lowercase hex of some bytes.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map(hex).joined()
    }
}
