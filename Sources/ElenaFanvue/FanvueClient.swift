import AsyncHTTPClient
package import ElenaCore
package import Foundation
package import Logging
import NIOCore
import NIOHTTP1

/// The Fanvue API over AsyncHTTPClient: version header and bearer token on every call, pacing by the rate-limit
/// headers, retries of 429 (after `Retry-After`), 5xx and dropped connections (jittered backoff, capped), one
/// refresh-and-retry on 401, and 4xx reported with Fanvue's message. Requests that create something (posts,
/// messages) are not retried when their outcome is unknown; the caller checks first.
package final class FanvueClient: FanvuePublishing {
    package let configuration: FanvueConfiguration
    let tokens: TokenProvider
    let limiter = RateLimiter()
    /// Request counts.
    package let counter = RequestCounter()
    private let accountCache = AccountCache()
    /// Every request and its answer at debug level: method, path, status, time, attempt; never a header, a query
    /// string (a storage URL carries its signature there) or a body.
    let logger: Logger

    /// Creates a client.
    package init(
        configuration: FanvueConfiguration, tokens: TokenProvider,
        logger: Logger = Logger(label: "elena.fanvue", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.configuration = configuration
        self.tokens = tokens
        self.logger = logger
    }

    /// An answer.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: JSONValue? { try? JSONValue.parse(body) }
    }

    /// How a request may be retried.
    enum Safety {
        /// Repeating it changes nothing (GET, PUT of a part, attach, complete): retried on 5xx and dropped connections.
        case idempotent
        /// Repeating it could create a second thing: retried only on 429 and refused connections.
        case creates
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    static func percentEncodePath(_ segment: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    /// Sends one API request with every rule above.
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json body: JSONValue? = nil,
        safety: Safety = .idempotent
    ) async throws -> Answer {
        let label = "\(method.rawValue) \(path)"
        var url = configuration.apiURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(OAuthClient.formEncode($0))=\(OAuthClient.formEncode($1))" }.joined(separator: "&")
        }
        var rejectedToken: String?
        var attempt = 0
        while true {
            attempt += 1
            await limiter.acquire()
            let token = try await tokens.accessToken(rejected: rejectedToken)
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "X-Fanvue-API-Version", value: configuration.apiVersion)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "elena-run/0.1")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body.serialized()))
            }
            await counter.count(storage: false)
            let answer: Answer
            let started = ContinuousClock.now
            do {
                let response = try await HTTPClient.shared.execute(
                    request, timeout: .milliseconds(Int64(configuration.requestTimeout * 1000)))
                let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
                answer = Answer(status: Int(response.status.code), headers: response.headers, body: text)
                logger.debug("fanvue: \(label) -> \(answer.status) in \(Self.milliseconds(since: started)) ms (attempt \(attempt))")
            } catch {
                logger.debug("fanvue: \(label) -> no answer after \(Self.milliseconds(since: started)) ms (attempt \(attempt)): \(TransportWords.describe(error))")
                let refused = TransportWords.isRefused(error)
                if (safety == .idempotent || refused), attempt < configuration.retry.maxAttempts {
                    await counter.countRetry()
                    try await Task.sleep(for: .milliseconds(Int(configuration.retry.delay(afterAttempt: attempt) * 1000)))
                    continue
                }
                throw FanvueError(.connection, message: TransportWords.describe(error), request: label)
            }
            await limiter.update(
                remaining: answer.headers.first(name: "X-RateLimit-Remaining").flatMap { Int($0) },
                reset: answer.headers.first(name: "X-RateLimit-Reset").flatMap { Double($0) })
            switch answer.status {
            case 200..<300:
                return answer
            case 401 where rejectedToken == nil:
                rejectedToken = token
                attempt -= 1
                continue
            case 401:
                throw FanvueError(.authentication, status: 401, message: FanvueError.message(fromBody: answer.body), request: label)
            case 429 where attempt < configuration.retry.maxAttempts * 3:
                await counter.countRateLimited()
                let wait = min(
                    configuration.retry.maxDelay,
                    answer.headers.first(name: "Retry-After").flatMap { Double($0) } ?? configuration.retry.delay(afterAttempt: attempt))
                await limiter.pause(until: Date().addingTimeInterval(max(0.05, wait)))
                continue
            case 500..<600 where safety == .idempotent && attempt < configuration.retry.maxAttempts:
                await counter.countRetry()
                try await Task.sleep(for: .milliseconds(Int(configuration.retry.delay(afterAttempt: attempt) * 1000)))
                continue
            default:
                // A 5xx to a creating request: it may or may not have taken effect, like a dropped connection.
                let unknownOutcome = (500..<600).contains(answer.status) && safety == .creates
                let kind: FanvueError.Kind = unknownOutcome ? .connection : .http
                throw FanvueError(kind, status: answer.status, message: FanvueError.message(fromBody: answer.body), request: label)
            }
        }
    }


    // MARK: FanvuePublishing

    package var account: String {
        get async throws {
            try await accountCache.value {
                let answer = try await self.call(.GET, "/users/me")
                guard let uuid = answer.json?["uuid"]?.stringValue else {
                    throw FanvueError(.protocolError, message: "no uuid in /users/me", request: "GET /users/me")
                }
                return uuid
            }
        }
    }

    package func ensureFolder(_ name: String) async throws -> Bool {
        do {
            _ = try await call(.POST, "/vault/folders", json: .object(["name": .string(name)]))
            return true
        } catch let error as FanvueError where error.statusCode == 409 {
            return false
        }
    }

    /// Whether a vault folder of that exact name exists (a read: `GET /vault/folders/{name}`).
    package func folderExists(_ name: String) async throws -> Bool {
        do {
            _ = try await call(.GET, "/vault/folders/\(Self.percentEncodePath(name))")
            return true
        } catch let error as FanvueError where error.statusCode == 404 {
            return false
        }
    }

    package func createUpload(name: String, filename: String) async throws -> (mediaUUID: String, uploadID: String) {
        // Repeating it leaves an unfinished session at worst (never a second ready media), so it may be retried.
        let answer = try await call(
            .POST, "/media/uploads",
            json: .object(["name": .string(name), "filename": .string(filename), "mediaType": .string("image")]))
        guard let media = answer.json?["mediaUuid"]?.stringValue, let upload = answer.json?["uploadId"]?.stringValue else {
            throw FanvueError(.protocolError, message: "no mediaUuid/uploadId", request: "POST /media/uploads")
        }
        return (media, upload)
    }

    package func partURL(uploadID: String, part: Int) async throws -> String {
        let answer = try await call(.GET, "/media/uploads/\(Self.percentEncodePath(uploadID))/parts/\(part)/url")
        let url = answer.body.trimmingCharacters(in: .whitespacesAndNewlines)
        // The body is the bare URL (text/plain); tolerate a JSON-quoted string.
        if url.hasPrefix("\""), let unquoted = try? JSONValue.parse(url).stringValue { return unquoted }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw FanvueError(.protocolError, message: "the part URL is not a URL", request: "GET /media/uploads/…/url")
        }
        return url
    }

    package func putPart(url: String, bytes: Data) async throws -> String {
        // Straight to storage: no bearer token, no API version header. The signature stays out of messages.
        let label = "PUT storage part"
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = .PUT
            request.headers.add(name: "Content-Length", value: String(bytes.count))
            request.body = .bytes(ByteBuffer(bytes: bytes))
            await counter.count(storage: true)
            let started = ContinuousClock.now
            do {
                let response = try await HTTPClient.shared.execute(
                    request, timeout: .milliseconds(Int64(configuration.requestTimeout * 1000)))
                let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                let code = Int(response.status.code)
                logger.debug("fanvue: \(label) (\(bytes.count) bytes) -> \(code) in \(Self.milliseconds(since: started)) ms (attempt \(attempt))")
                if (200..<300).contains(code), let etag = response.headers.first(name: "ETag") { return etag }
                if (500..<600).contains(code) || code == 429, attempt < configuration.retry.maxAttempts {
                    await counter.countRetry()
                    try await Task.sleep(for: .milliseconds(Int(configuration.retry.delay(afterAttempt: attempt) * 1000)))
                    continue
                }
                throw FanvueError(.http, status: code, message: FanvueError.message(fromBody: text), request: label)
            } catch let error as FanvueError {
                throw error
            } catch {
                if attempt < configuration.retry.maxAttempts {
                    await counter.countRetry()
                    try await Task.sleep(for: .milliseconds(Int(configuration.retry.delay(afterAttempt: attempt) * 1000)))
                    continue
                }
                throw FanvueError(.connection, message: TransportWords.describe(error), request: label)
            }
        }
    }

    package func completeUpload(uploadID: String, parts: [UploadRecord.Part]) async throws -> String {
        let body = JSONValue.object([
            "parts": .array(
                parts.sorted { $0.number < $1.number }.map {
                    .object(["ETag": .string($0.etag), "PartNumber": .int($0.number)])
                })
        ])
        let answer = try await call(.PATCH, "/media/uploads/\(Self.percentEncodePath(uploadID))", json: body)
        return answer.json?["status"]?.stringValue ?? "processing"
    }

    package func mediaStatus(_ uuid: String) async throws -> String {
        let answer = try await call(.GET, "/media/\(Self.percentEncodePath(uuid))")
        guard let status = answer.json?["status"]?.stringValue else {
            throw FanvueError(.protocolError, message: "no status", request: "GET /media/…")
        }
        return status
    }

    package func attach(folder: String, mediaUUIDs: [String]) async throws -> Int {
        let answer = try await call(
            .POST, "/vault/folders/\(Self.percentEncodePath(folder))/media",
            json: .object(["mediaUuids": .array(mediaUUIDs.map(JSONValue.string))]))
        return answer.json?["addedCount"]?.intValue ?? 0
    }

    package func createPost(_ post: PostRequest) async throws -> String {
        var members: [JSONValue.Member] = [
            .init("audience", .string(post.audience)), .init("text", .string(post.text)),
            .init("mediaUuids", .array(post.mediaUUIDs.map(JSONValue.string))),
        ]
        if let price = post.priceCents { members.append(.init("price", .int(price))) }
        if let at = post.publishAt { members.append(.init("publishAt", .string(Timestamp.format(at)))) }
        let answer = try await call(.POST, "/posts", json: .object(members), safety: .creates)
        guard let uuid = answer.json?["uuid"]?.stringValue else {
            throw FanvueError(.protocolError, message: "no uuid", request: "POST /posts")
        }
        return uuid
    }

    package func findPost(text: String, mediaUUIDs: [String]) async throws -> String? {
        let wanted = Set(mediaUUIDs)
        for page in 1...5 {
            let answer = try await call(.GET, "/posts", query: [("page", String(page)), ("size", "50")])
            let posts = answer.json?["data"]?.arrayValue ?? []
            for post in posts where post["text"]?.stringValue == text {
                let media = Set(post["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                if media.isEmpty || media == wanted { return post["uuid"]?.stringValue }
            }
            if answer.json?["pagination"]?["hasMore"]?.boolValue != true { break }
        }
        return nil
    }

    package func sendMessage(fan: String, text: String?, mediaUUIDs: [String], priceCents: Int?) async throws -> String {
        var members: [JSONValue.Member] = [.init("mediaUuids", .array(mediaUUIDs.map(JSONValue.string)))]
        if let text { members.append(.init("text", .string(text))) }
        members.append(.init("price", priceCents.map(JSONValue.int) ?? .null))
        let answer = try await call(
            .POST, "/chats/\(Self.percentEncodePath(fan))/message", json: .object(members), safety: .creates)
        guard let uuid = answer.json?["messageUuid"]?.stringValue else {
            throw FanvueError(.protocolError, message: "no messageUuid", request: "POST /chats/…/message")
        }
        return uuid
    }

    package func findMessage(fan: String, mediaUUIDs: [String]) async throws -> String? {
        let wanted = Set(mediaUUIDs)
        let answer = try await call(.GET, "/chats/\(Self.percentEncodePath(fan))/messages", query: [("page", "1"), ("size", "50")])
        for message in answer.json?["data"]?.arrayValue ?? [] {
            let media = Set(message["mediaUuids"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            if media == wanted { return message["uuid"]?.stringValue ?? message["messageUuid"]?.stringValue }
        }
        return nil
    }
}

/// The account uuid, fetched once: callers that ask while the one request is in flight wait for its answer
/// (eight uploads starting together cost one `GET /users/me`, not eight).
actor AccountCache {
    private var known: String?
    private var pending: Task<String, any Error>?

    func value(_ fetch: @escaping @Sendable () async throws -> String) async throws -> String {
        if let known { return known }
        if let pending { return try await pending.value }
        let task = Task { try await fetch() }
        pending = task
        defer { pending = nil }
        let uuid = try await task.value
        known = uuid
        return uuid
    }
}
