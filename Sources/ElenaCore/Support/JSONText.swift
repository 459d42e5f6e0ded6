/// JSON kept as text and parsed only when read: stage summaries loaded by the thousand from the run cache are
/// rarely looked at, so they are not parsed up front.
package struct JSONText: Sendable, Hashable, CustomStringConvertible {
    /// The JSON text.
    package let text: String

    /// Wraps JSON text as stored.
    package init(text: String) { self.text = text }

    /// Serialises a value.
    package init(_ value: JSONValue) { self.text = value.serialized() }

    /// `null`.
    package static let null = JSONText(text: "null")

    /// The parsed value (`.null` when the text is not valid JSON).
    package var value: JSONValue { (try? JSONValue.parse(text)) ?? .null }

    /// The text.
    package var description: String { text }
}
