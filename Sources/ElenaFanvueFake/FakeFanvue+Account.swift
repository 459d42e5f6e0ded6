import ElenaCore
import Foundation
import Hummingbird
import NIOCore

/// `GET /users/me`, `GET /subscribers`, `GET /insights/earnings`.
extension FakeFanvue {
    static let earningSources: Set<String> = [
        "all", "affiliate", "appStore", "checkoutLink", "mediaLink", "message", "post", "referral", "renewal",
        "subscription", "tip", "giveaway",
    ]

    func addAccountRoutes(to router: Router<FakeRequestContext>) {
        router.get("/users/me") { _, context in try self.me(context) }
        router.get("/subscribers") { request, context in try self.listSubscribers(request, context) }
        router.get("/insights/earnings") { request, context in try self.listEarnings(request, context) }
        router.get("/insights/spending") { request, context in try self.listSpending(request, context) }
    }

    func me(_ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:self", in: context)
        let created = FakeHTTP.time(Date(timeIntervalSince1970: 1_735_689_600))
        return FakeHTTP.json(
            200,
            .object([
                "uuid": .string(configuration.userUUID), "email": .string("\(configuration.handle)@example.com"),
                "handle": .string(configuration.handle), "bio": .string("AI-generated creator"),
                "displayName": .string(configuration.handle.capitalized), "isCreator": .bool(true),
                "createdAt": created, "updatedAt": created, "avatarUrl": .null, "bannerUrl": .null,
            ]))
    }

    func listSubscribers(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:fan", in: context)
        let (page, size) = try FakeHTTP.page(request)
        return FakeHTTP.json(200, FakeHTTP.paged(state.withLock { $0.subscribers }, page: page, size: size))
    }

    /// Cursor-paginated: `{data, nextCursor}`, newest `date` first; `startDate` inclusive, `endDate` exclusive,
    /// `source` a comma-separated filter.
    func listEarnings(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:insights", in: context)
        return try cursorPage(request, state.withLock { $0.earnings }, sourceKey: "source")
    }

    /// `GET /insights/spending`: refunds and chargebacks (negative `gross`/`net`, `type` refund or chargeback), paged
    /// and filtered like the earnings.
    func listSpending(_ request: Request, _ context: FakeRequestContext) throws(FakeHTTPError) -> Response {
        try require("read:insights", in: context)
        return try cursorPage(request, state.withLock { $0.spending }, sourceKey: "type")
    }

    /// One page of `all`, newest `date` first, cursor-paginated, with the date and source filters.
    func cursorPage(_ request: Request, _ all: [JSONValue], sourceKey: String) throws(FakeHTTPError) -> Response {
        let query = FakeHTTP.form(request.uri.query ?? "")
        var errors: [String] = []
        var size = 20
        if let text = query["size"] {
            if let value = Int(text), (1...50).contains(value) {
                size = value
            } else {
                errors.append("size must be an integer between 1 and 50")
            }
        }
        var offset = 0
        if let cursor = query["cursor"], !cursor.isEmpty {
            if cursor.hasPrefix("c"), let value = Int(cursor.dropFirst()), value >= 0 {
                offset = value
            } else {
                errors.append("cursor is not valid")
            }
        }
        func date(_ key: String) -> Date? {
            guard let text = query[key] else { return nil }
            if let date = Timestamp.parse(text) ?? Timestamp.parse(text + "T00:00:00Z") { return date }
            errors.append("\(key) must be an ISO 8601 date")
            return nil
        }
        let start = date("startDate")
        let end = date("endDate")
        let sources = Set((query["source"] ?? "all").split(separator: ",").map(String.init))
        if !sources.isSubset(of: Self.earningSources) {
            errors.append(
                "source must be a comma-separated list of \(Self.earningSources.sorted().joined(separator: ", "))")
        }
        guard errors.isEmpty else { throw .validation(errors) }
        let filtered = all.filter { earning in
            let when = earning["date"]?.stringValue.flatMap(Timestamp.parse)
            if let start, let when, when < start { return false }
            if let end, let when, when >= end { return false }
            if !sources.contains("all") && !sources.contains(earning[sourceKey]?.stringValue ?? "") { return false }
            return true
        }.enumerated().sorted { left, right in
            let a = left.element["date"]?.stringValue.flatMap(Timestamp.parse) ?? .distantPast
            let b = right.element["date"]?.stringValue.flatMap(Timestamp.parse) ?? .distantPast
            return a != b ? a > b : left.offset < right.offset
        }.map(\.element)
        let page = Array(filtered.dropFirst(offset).prefix(size))
        let next = offset + page.count < filtered.count ? JSONValue.string("c\(offset + page.count)") : .null
        return FakeHTTP.json(200, .object(["data": .array(page), "nextCursor": next]))
    }
}
