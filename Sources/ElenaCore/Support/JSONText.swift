/// JSON kept as text and parsed only when read: stage summaries loaded by the thousand from the run cache are
/// rarely looked at, so they are not parsed up front.
public struct JSONText: Sendable, Hashable, CustomStringConvertible {
    /// The JSON text.
    public let text: String

    /// Wraps JSON text as stored.
    public init(text: String) { self.text = text }

    /// Serialises a value.
    public init(_ value: JSONValue) { self.text = value.serialized() }

    /// `null`.
    public static let null = JSONText(text: "null")

    /// The parsed value (`.null` when the text is not valid JSON).
    public var value: JSONValue { (try? JSONValue.parse(text)) ?? .null }

    /// The text.
    public var description: String { text }
}
