import Foundation
import ElenaCore

/// A failed Fanvue call: the HTTP status (when the server answered), Fanvue's own message, and which request it
/// was ("POST /media/uploads"). Never the token, never a signed URL's signature.
package struct FanvueError: RemoteError, Sendable {
    /// What went wrong, broadly.
    package enum Kind: String, Sendable {
        /// The server answered with an error status.
        case http
        /// The connection failed or was dropped; for a request that changes something, whether it took effect is unknown.
        case connection
        /// Not logged in, or the refresh token was refused.
        case authentication
        /// A response that could not be understood.
        case protocolError
    }

    package var kind: Kind
    package var statusCode: Int?
    /// Fanvue's message (`message`, `error` or `errors` of the body), if any.
    package var message: String
    /// `METHOD /path` of the request (no query, no host).
    package var request: String

    package var isAuthentication: Bool { kind == .authentication }

    /// Creates an error.
    package init(_ kind: Kind, status: Int? = nil, message: String, request: String) {
        self.kind = kind
        self.statusCode = status
        self.message = message
        self.request = request
    }

    /// One sentence for the per-item error line.
    package var description: String {
        switch kind {
        case .http: return "Fanvue answered \(statusCode ?? 0) to \(request): \(message)"
        case .connection: return "the connection to Fanvue failed during \(request): \(message)"
        case .authentication: return "not logged in to Fanvue (\(message)); run `elena-run auth login`"
        case .protocolError: return "unexpected answer from Fanvue to \(request): \(message)"
        }
    }

    /// Reads Fanvue's message from an error body (there is no single envelope).
    package static func message(fromBody body: String) -> String {
        guard let json = try? JSONValue.parse(body) else {
            let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return "no message" }
            // Storage answers in S3's XML, whose errors may carry the request's signature and the string it signed:
            // only the code and the message are kept.
            if trimmed.hasPrefix("<") {
                let code = element("Code", in: trimmed)
                let message = element("Message", in: trimmed)
                switch (code, message) {
                case (let code?, let message?): return "\(code): \(message)"
                case (let code?, nil): return code
                case (nil, let message?): return message
                case (nil, nil): return "an XML error without a code"
                }
            }
            return redactingSignatures(String(trimmed.prefix(300)))
        }
        if let message = json["message"]?.stringValue, let error = json["error"]?.stringValue, message != error {
            return "\(error): \(message)"
        }
        if let message = json["message"]?.stringValue { return message }
        if let error = json["error"]?.stringValue {
            if let detail = json["error_description"]?.stringValue { return "\(error): \(detail)" }
            return error
        }
        if let errors = json["errors"]?.arrayValue { return errors.compactMap(\.stringValue).joined(separator: "; ") }
        return redactingSignatures(String(body.prefix(300)))
    }

    /// The text of the first `<name>…</name>` element.
    static func element(_ name: String, in xml: String) -> String? {
        guard let start = xml.range(of: "<\(name)>"), let end = xml.range(of: "</\(name)>", range: start.upperBound..<xml.endIndex)
        else { return nil }
        return String(xml[start.upperBound..<end.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Signed-URL parameters (`X-Amz-Signature=…`, `Signature=…`, `X-Amz-Credential=…`) with their values removed.
    static func redactingSignatures(_ text: String) -> String {
        guard let pattern = try? NSRegularExpression(pattern: "((?:X-Amz-)?(?:Signature|Credential|Security-Token))=[^&\\s\"'<]+", options: [.caseInsensitive])
        else { return text }
        return pattern.stringByReplacingMatches(
            in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "$1=[redacted]")
    }
}

