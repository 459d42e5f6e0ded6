package import ElenaCore
import ElenaEngine
import Foundation
package import Hummingbird
import Logging
import NIOCore
import HTTPTypes
import UnixSignals

/// The review page's HTTP server: 127.0.0.1 only, every request carrying the session token, every change
/// carrying the page's CSRF value, files served only by item id.
package struct ReviewServer: Sendable {
    /// The secret in the URL.
    package let token: String
    /// The second secret, embedded in the page, required on every POST.
    package let csrf: String
    let service: ReviewService
    let layout: LibraryLayout
    let codec: any ImageCodec

    /// Creates a server with fresh random secrets.
    package init(service: ReviewService, layout: LibraryLayout, codec: any ImageCodec) {
        self.token = Self.secret()
        self.csrf = Self.secret()
        self.service = service
        self.layout = layout
        self.codec = codec
    }

    static func secret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The router with every route and the access rules.
    package func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: AccessMiddleware(token: token, csrf: csrf))
        let service = service
        let layout = layout
        let codec = codec
        let token = token
        let csrf = csrf

        router.get("/") { _, _ -> Response in
            let page = Assets.indexHTML
                .replacingOccurrences(of: "{{TOKEN}}", with: Self.escape(token))
                .replacingOccurrences(of: "{{CSRF}}", with: Self.escape(csrf))
                .replacingOccurrences(of: "{{DROP}}", with: Self.escape(service.drop))
            return Self.respond(page, type: "text/html; charset=utf-8")
        }
        router.get("app.js") { _, _ in Self.respond(Assets.appJS, type: "text/javascript; charset=utf-8") }
        router.get("app.css") { _, _ in Self.respond(Assets.appCSS, type: "text/css; charset=utf-8") }
        router.get("api/items") { request, _ in
            try await Self.json {
                let query = request.uri.queryParameters
                func number(_ name: String) throws -> Int? {
                    guard let text = query.get(name) else { return nil }
                    guard let value = Int(text), value >= 0 else { throw ReviewError(400, "\(name) must be a whole number, 0 or more") }
                    return value
                }
                return try await service.queue(
                    offset: try number("offset") ?? 0, limit: try number("limit"), since: query.get("since"), at: query.get("version"))
            }
        }
        // `<id>.jpg`: the crop, small (what would be published); `<id>.cut.jpg`: the original with the cut line.
        router.get("thumbs/:file") { _, context -> Response in
            let file = context.parameters.get("file") ?? ""
            guard file.hasSuffix(".jpg") else { return Self.error(ReviewError(404, "no such file")) }
            let cutView = file.hasSuffix(".cut.jpg")
            return await Self.image(layout) {
                let source = try await service.derivedSource(
                    String(file.dropLast(cutView ? 8 : 4)), kind: cutView ? .cutView : .thumbnail)
                return ServedImage(path: try ReviewImages.make(source, layout: layout, codec: codec), crop: source.crop)
            }
        }
        router.get("images/:id/:kind") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            switch context.parameters.get("kind") {
            case "original.jpg":
                return await Self.image(layout) {
                    let source = try await service.derivedSource(id, kind: .original)
                    return ServedImage(path: try ReviewImages.make(source, layout: layout, codec: codec), crop: source.crop)
                }
            case "crop.jpg":
                return await Self.image(layout) { try await service.cropFile(id) }
            default:
                return Self.error(ReviewError(404, "no such file"))
            }
        }
        router.post("api/decisions") { request, context -> Response in
            try await Self.json {
                let body = try await Self.body(request, context)
                guard let decision = body["decision"]?.stringValue.flatMap(ReviewDecision.init(rawValue:)) else {
                    throw ReviewError(400, "decision must be approved, rejected or pending")
                }
                return try await service.decide(try Self.ids(body), decision)
            }
        }
        router.post("api/metadata") { request, context -> Response in
            try await Self.json {
                let body = try await Self.body(request, context)
                var tags = ReviewService.Change<[String]>.keep
                switch body["tags"] {
                case nil: break
                case .null?: tags = .clear
                case let value?:
                    guard let list = value.arrayValue else { throw ReviewError(400, "tags must be a list of words") }
                    var seen: Set<String> = []
                    let cleaned = list.compactMap { $0.stringValue?.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
                    if cleaned.contains(where: { $0.contains(",") || $0.count > 64 }) {
                        throw ReviewError(400, "a tag may not contain a comma or exceed 64 characters")
                    }
                    tags = .set(cleaned)
                }
                var cents = ReviewService.Change<Int>.keep
                switch body["price"] {
                case nil: break
                case .null?: cents = .clear
                case let value?:
                    guard let number = value.doubleValue, number.isFinite else { throw ReviewError(400, "price must be a number") }
                    cents = .set(Int((number * 100).rounded()))
                }
                var vault = ReviewService.Change<String>.keep
                switch body["vault"] {
                case nil: break
                case .null?: vault = .clear
                case let value?:
                    guard let name = value.stringValue else { throw ReviewError(400, "vault must be a name") }
                    vault = .set(name.trimmingCharacters(in: .whitespaces))
                }
                return try await service.setMetadata(try Self.ids(body), tags: tags, priceCents: cents, vault: vault)
            }
        }
        router.post("api/undo") { _, _ in try await Self.json { try await service.undo() } }
        router.post("api/recrop") { request, context -> Response in
            try await Self.json {
                let body = try await Self.body(request, context)
                guard let id = body["item"]?.stringValue, let line = body["line"]?.doubleValue else {
                    throw ReviewError(400, "recrop needs an item and a line")
                }
                return try await service.recrop(id, line: line)
            }
        }
        return router
    }

    /// Runs until Ctrl-C or SIGTERM (then stops gracefully).
    /// - Parameters:
    ///   - port: 0 for a free port.
    ///   - started: called with the bound port once the server listens.
    package func run(port: Int, started: @escaping @Sendable (Int) async -> Void) async throws {
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "elena-run review"),
            onServerRunning: { channel in await started(channel.localAddress?.port ?? port) },
            logger: Logger(label: "elena.review", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    // MARK: Helpers

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func respond(_ text: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-store"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        headers[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func error(_ error: ReviewError) -> Response {
        let body = JSONValue.object(["error": .string(error.description)]).serialized()
        return respond(body, type: "application/json", status: HTTPResponse.Status(code: error.status))
    }

    static func json(_ work: () async throws -> JSONValue) async throws -> Response {
        do {
            return respond(try await work().serialized(), type: "application/json")
        } catch let error as ReviewError {
            return Self.error(error)
        } catch {
            return Self.error(ReviewError(500, "\(error)"))
        }
    }

    /// Serves a library file by the library-relative path the service resolved from an item id; anything that
    /// would resolve outside the library (a symlink, a forged record) is refused.
    /// An image file to serve, and the crop (by digest) it shows or was made from.
    struct ServedImage: Sendable {
        var path: String
        var crop: Digest
    }

    /// Serves a library file, with the digest of the crop it shows in `X-Crop-Digest` (so a check can tell which
    /// crop a thumbnail was made from).
    static func image(_ layout: LibraryLayout, _ file: () async throws -> ServedImage) async -> Response {
        do {
            let served = try await file()
            let relative = served.path
            let resolved = URL(fileURLWithPath: layout.absolute(relative)).resolvingSymlinksInPath().path
            let root = URL(fileURLWithPath: layout.root).resolvingSymlinksInPath().path
            guard resolved.hasPrefix(root + "/") else { throw ReviewError(404, "no such file") }
            let data = try FileSystem.read(resolved)
            var headers = HTTPFields()
            headers[.contentType] = resolved.hasSuffix(".png") ? "image/png" : "image/jpeg"
            headers[.cacheControl] = "private, max-age=3600"
            headers[.init("X-Content-Type-Options")!] = "nosniff"
            headers[.init("X-Crop-Digest")!] = served.crop.hex
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        } catch let error as ReviewError {
            return Self.error(error)
        } catch {
            return Self.error(ReviewError(404, "no such file"))
        }
    }

    static func body(_ request: Request, _ context: BasicRequestContext) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        let text = String(buffer: buffer)
        do {
            return try JSONValue.parse(text)
        } catch {
            throw ReviewError(400, "the request body is not JSON: \(error)")
        }
    }

    static func ids(_ body: JSONValue) throws -> [String] {
        guard let list = body["items"]?.arrayValue, !list.isEmpty, list.count <= 10_000 else {
            throw ReviewError(400, "items must be a list of item ids")
        }
        return try list.map {
            guard let id = $0.stringValue else { throw ReviewError(400, "items must be a list of item ids") }
            return id
        }
    }
}

/// Refuses requests without the session token (403), and changes without the page's CSRF value (403).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let token: String
    let csrf: String

    /// Compares secrets in constant time.
    static func same(_ a: String?, _ b: String) -> Bool {
        guard let a else { return false }
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Browsers ask for an icon on their own, without the token: answer with nothing rather than a 403.
        if request.method == .get, request.uri.path == "/favicon.ico" { return Response(status: .noContent) }
        let given = request.headers[HTTPField.Name("X-Review-Token")!] ?? request.uri.queryParameters.get("token")
        guard Self.same(given, token) else {
            return ReviewServer.respond("403 forbidden: this page needs the link elena-run review printed\n", type: "text/plain", status: .forbidden)
        }
        if request.method != .get && request.method != .head {
            guard Self.same(request.headers[HTTPField.Name("X-CSRF-Token")!], csrf) else {
                return ReviewServer.respond("403 forbidden: missing or wrong CSRF value\n", type: "text/plain", status: .forbidden)
            }
        }
        return try await next(request, context)
    }
}
