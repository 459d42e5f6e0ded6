import ElenaFakeServer
import ElenaCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The one middleware in front of every route. In order:
///
/// 1. reads the whole body and records the call (`FakeFanvue.calls`, in arrival order);
/// 2. applies armed faults: a delay, then a dropped connection, then an injected status;
/// 3. for API routes (everything but `/oauth2/*` and `/storage/*`): a rate-limit storm, the version header, the
///    bearer token, the token bucket;
/// 4. runs the route, turning thrown `FakeHTTPError`s (and Hummingbird's 404) into Fanvue-shaped bodies;
/// 5. adds the rate-limit headers to every API answer and records the status;
/// 6. waits `Configuration.answerDelay` before the answer goes out.
struct FakeGate: RouterMiddleware {
    typealias Context = FakeRequestContext
    let fake: FakeFanvue

    enum Area { case api, oauth, storage }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        var context = context
        let path = request.uri.path
        let method = request.method.rawValue
        let area: Area = path.hasPrefix("/oauth2/") ? .oauth : path.hasPrefix("/storage/") ? .storage : .api
        let authorization = request.headers[.authorization]
        let version = request.headers[FakeHTTP.apiVersionHeader]
        var tooLarge = false
        do {
            context.body = try await request.collectBody(upTo: FakeFanvue.maximumBodySize)
        } catch {
            tooLarge = true
        }
        let index = fake.record(
            FakeFanvue.Call(
                method: method, path: path, query: request.uri.query, status: 0,
                hadBearer: FakeHTTP.bearer(authorization) != nil, apiVersion: version,
                bodySize: context.body.readableBytes, at: fake.configuration.time.now))

        let faults = fake.takeFaults(path: path, method: method, api: area == .api)
        if let delay = faults.delay, delay > 0 {
            await fake.configuration.time.pause(delay)
        }
        if faults.drop {
            // Close the TCP connection without a byte of answer. The request has been read in full above; the
            // response returned below is never written, since the channel is already closed.
            try? await context.channel.close()
            fake.finish(index, status: 0)
            return Response(status: .internalServerError)
        }

        var response: Response
        if tooLarge {
            response = FakeHTTPError.message(413, "the request body is too large").response
        } else if let status = faults.status {
            response = Self.injected(status, area: area)
        } else if area == .api && faults.storm {
            response =
                FakeHTTPError(
                    status: 429, body: JSONValue.string("Too Many Requests").wrapped("error"),
                    headers: fake.stormRetryAfter.map { [("Retry-After", $0)] } ?? []
                ).response
            Self.setRate(
                &response, limit: fake.configuration.rateLimit, remaining: 0, reset: fake.configuration.time.now.addingTimeInterval(1))
        } else if area == .api {
            response = await api(request, context: context, version: version, authorization: authorization, next: next)
        } else {
            response = await Self.run(request, context, next)
        }
        if area == .api && response.headers[FakeHTTP.name("X-RateLimit-Limit")] == nil {
            let decision = fake.peekRate(bearer: FakeHTTP.bearer(authorization))
            Self.setRate(&response, limit: decision.limit, remaining: decision.remaining, reset: decision.resetAt)
        }
        if faults.dropAnswer {
            // Done, but the answer is lost: the connection closes before a byte of it is written.
            try? await context.channel.close()
            fake.finish(index, status: 0)
            return response
        }
        fake.finish(index, status: Int(response.status.code))
        if fake.configuration.answerDelay > 0 {
            await fake.configuration.time.pause(fake.configuration.answerDelay)
        }
        return response
    }

    /// Version, bearer and bucket checks, then the route.
    func api(
        _ request: Request, context: Context, version: String?, authorization: String?,
        next: (Request, Context) async throws -> Response
    ) async -> Response {
        var context = context
        let configuration = fake.configuration
        guard let version, version == configuration.apiVersion else {
            let message =
                version.map { "API version '\($0)' is not supported" }
                ?? "The X-Fanvue-API-Version header is required (supported: \(configuration.apiVersion))"
            return FakeHTTP.json(
                400, .object(["error": .string("Unsupported API version"), "message": .string(message)]))
        }
        let principal: FakePrincipal
        switch fake.checkBearer(FakeHTTP.bearer(authorization)) {
        case .valid(let found):
            principal = found
        case .missing:
            return Self.unauthorized("the request has no bearer token")
        case .unknown:
            return Self.unauthorized("the access token is not valid")
        case .expired:
            return Self.unauthorized("the access token has expired")
        }
        let decision = fake.takeRate(principal.bucketKey)
        guard decision.allowed else {
            let wait = max(1, Int(decision.resetAt.timeIntervalSince(fake.configuration.time.now).rounded(.up)))
            var response = FakeHTTPError(
                status: 429, body: JSONValue.string("Too Many Requests").wrapped("error"),
                headers: [("Retry-After", String(wait))]
            ).response
            Self.setRate(&response, limit: decision.limit, remaining: 0, reset: decision.resetAt)
            return response
        }
        context.principal = principal
        var response = await Self.run(request, context, next)
        Self.setRate(&response, limit: decision.limit, remaining: decision.remaining, reset: decision.resetAt)
        return response
    }

    /// Runs the route; thrown errors become answers.
    static func run(
        _ request: Request, _ context: Context, _ next: (Request, Context) async throws -> Response
    ) async -> Response {
        do {
            return try await next(request, context)
        } catch let error as FakeHTTPError {
            return error.response
        } catch let error as HTTPError {
            let status = Int(error.status.code)
            let text = error.body ?? (status == 404 ? "Not Found" : error.status.reasonPhrase)
            return FakeHTTPError.message(status, text).response
        } catch {
            return FakeHTTPError.error(500, "Internal Server Error").response
        }
    }

    /// 401 `{error}` with the reason in `WWW-Authenticate`.
    static func unauthorized(_ reason: String) -> Response {
        FakeHTTPError(
            status: 401, body: JSONValue.string("Unauthorized").wrapped("error"),
            headers: [("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"\(reason)\"")]
        ).response
    }

    /// The answer of an injected `failNext` status, shaped like the real thing for that status and area.
    static func injected(_ status: Int, area: Area) -> Response {
        if area == .storage {
            let (code, message): (String, String) =
                switch status {
                case 403: ("AccessDenied", "Access Denied")
                case 404: ("NoSuchUpload", "The specified upload does not exist.")
                case 500: ("InternalError", "We encountered an internal error. Please try again.")
                case 503: ("SlowDown", "Please reduce your request rate.")
                default: ("InjectedFault", "Injected failure \(status).")
                }
            return FakeHTTPError.storage(status, code, message).response
        }
        if area == .oauth {
            let error = status >= 500 ? "server_error" : status == 401 ? "invalid_client" : "invalid_request"
            return FakeHTTP.json(
                status, .object(["error": .string(error), "error_description": .string("Injected failure \(status).")]))
        }
        let reason = Self.reasons[status] ?? ""
        switch status {
        case 400: return FakeHTTPError.validation(["Injected validation failure"]).response
        case 404, 409: return FakeHTTPError.message(status, reason.isEmpty ? "Injected failure" : reason).response
        case 429:
            return FakeHTTPError(
                status: 429, body: JSONValue.string("Too Many Requests").wrapped("error"),
                headers: [("Retry-After", "1")]
            ).response
        case 500..<600:
            let text = reason.isEmpty ? "Server Error" : reason
            return FakeHTTP.json(
                status,
                .object([
                    "error": .string(text),
                    "message": .string("An unexpected error occurred. Please try again later."),
                ]))
        default: return FakeHTTPError.error(status, reason.isEmpty ? "Injected failure" : reason).response
        }
    }

    static let reasons: [Int: String] = [
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
        410: "Gone", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
        500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout",
    ]

    static func setRate(_ response: inout Response, limit: Int, remaining: Int, reset: Date) {
        response.headers[FakeHTTP.name("X-RateLimit-Limit")] = String(limit)
        response.headers[FakeHTTP.name("X-RateLimit-Remaining")] = String(remaining)
        response.headers[FakeHTTP.name("X-RateLimit-Reset")] = String(Int(reset.timeIntervalSince1970.rounded(.up)))
    }
}
