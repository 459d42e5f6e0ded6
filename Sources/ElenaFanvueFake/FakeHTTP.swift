import ElenaCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An answer other than success, thrown by a route and turned into a response by `FakeGate`.
struct FakeHTTPError: Error {
    var status: Int
    var body: String
    var contentType = "application/json"
    var headers: [(String, String)] = []

    /// `{"errors": [...]}`: a request that fails validation (Fanvue's 400 shape).
    static func validation(_ errors: [String]) -> FakeHTTPError {
        FakeHTTPError(status: 400, body: JSONValue.array(errors.map(JSONValue.string)).wrapped("errors"))
    }

    /// `{"message": ...}`: 400 (invalid uuid, contactability, message validation), 404, 409.
    static func message(_ status: Int, _ text: String) -> FakeHTTPError {
        FakeHTTPError(status: status, body: JSONValue.string(text).wrapped("message"))
    }

    /// `{"error": ...}`: 401, 403, 429.
    static func error(_ status: Int, _ text: String) -> FakeHTTPError {
        FakeHTTPError(status: status, body: JSONValue.string(text).wrapped("error"))
    }

    /// An S3-style XML error, for `/storage/*`.
    static func storage(_ status: Int, _ code: String, _ message: String) -> FakeHTTPError {
        let xml =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>"
            + FakeHTTP.escapeXML(message) + "</Message><RequestId>\(FakeRandom.token(bytes: 8))</RequestId></Error>"
        return FakeHTTPError(status: status, body: xml, contentType: "application/xml")
    }

    var response: Response { FakeHTTP.respond(status, body, type: contentType, headers: headers) }
}

extension JSONValue {
    /// `{"<key>": self}` serialized.
    func wrapped(_ key: String) -> String { JSONValue.object([key: self]).serialized() }
}

/// Small HTTP helpers shared by the routes.
enum FakeHTTP {
    static let apiVersionHeader = name("X-Fanvue-API-Version")

    /// A header name known to be valid.
    static func name(_ text: String) -> HTTPField.Name {
        guard let name = HTTPField.Name(text) else { preconditionFailure("invalid header name \(text); this is a bug") }
        return name
    }

    /// A response with a text body.
    static func respond(_ status: Int, _ body: String, type: String, headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = type
        for (key, value) in headers { fields.append(HTTPField(name: name(key), value: value)) }
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// A JSON response.
    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> Response {
        respond(status, value.serialized(), type: "application/json", headers: headers)
    }

    /// The token in `Authorization: Bearer <token>`.
    static func bearer(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Decodes `application/x-www-form-urlencoded` text (also a raw query): `+` is a space; the first value of a
    /// repeated key wins.
    static func form(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let key = decode(parts[0])
            if result[key] == nil { result[key] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return result
    }

    /// Percent-encodes a query value (RFC 3986 unreserved characters stay).
    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    static func escapeXML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The request body as a JSON object.
    /// - Throws: 400 `{errors}` when it is not a JSON object.
    static func object(_ body: ByteBuffer) throws(FakeHTTPError) -> JSONValue {
        guard let value = try? JSONValue.parse(String(buffer: body)), case .object = value else {
            throw .validation(["the request body must be a JSON object"])
        }
        return value
    }

    /// `page` (≥ 1, default 1) and `size` (1–50, default `defaultSize`) from the query.
    /// - Throws: 400 `{errors}` for values out of range.
    static func page(_ request: Request, defaultSize: Int = 15) throws(FakeHTTPError) -> (page: Int, size: Int) {
        let query = form(request.uri.query ?? "")
        var errors: [String] = []
        var page = 1
        var size = defaultSize
        if let text = query["page"] {
            if let value = Int(text), value >= 1 { page = value } else { errors.append("page must be an integer ≥ 1") }
        }
        if let text = query["size"] {
            if let value = Int(text), (1...50).contains(value) {
                size = value
            } else {
                errors.append("size must be an integer between 1 and 50")
            }
        }
        guard errors.isEmpty else { throw .validation(errors) }
        return (page, size)
    }

    /// One page of `items` as `{data, pagination:{page,size,hasMore}}`.
    static func paged(_ items: [JSONValue], page: Int, size: Int) -> JSONValue {
        let start = min(items.count, (page - 1) * size)
        let end = min(items.count, start + size)
        return .object([
            "data": .array(Array(items[start..<end])),
            "pagination": .object(["page": .int(page), "size": .int(size), "hasMore": .bool(end < items.count)]),
        ])
    }

    /// An ISO 8601 timestamp.
    static func time(_ date: Date) -> JSONValue { .string(Timestamp.format(date)) }

    /// `nil` for a missing or `null` member.
    static func present(_ value: JSONValue?) -> JSONValue? {
        if case .null = value { return nil }
        return value
    }
}
