/// A small schema language for manifests: one description drives validation with located, friendly errors
/// and the export of `schema/manifest.schema.json`, so the two can never disagree.
package indirect enum Schema: Sendable {
    /// A mapping with known keys; any other key is an error.
    case object(ObjectSchema)
    /// A sequence whose elements all follow one schema.
    case array(of: Schema, minItems: Int = 0, uniqueItems: Bool = false)
    /// A string, optionally restricted.
    case string(StringRule = StringRule())
    /// A whole number in a range.
    case integer(NumberRange = NumberRange())
    /// Any number in a range.
    case number(NumberRange = NumberRange())
    /// `true` or `false`.
    case boolean
    /// Either one string or a list of strings (for example `include`).
    case stringOrList(StringRule = StringRule())

    /// The word used in messages: "expected a number".
    package var noun: String {
        switch self {
        case .object: return "a mapping of keys"
        case .array: return "a list"
        case .string(let rule): return rule.allowed.isEmpty ? "a string" : "one of \(rule.allowedList)"
        case .integer: return "a whole number"
        case .number: return "a number"
        case .boolean: return "true or false"
        case .stringOrList: return "a string or a list of strings"
        }
    }
}

/// The keys of a mapping.
package struct ObjectSchema: Sendable {
    /// The keys in the order they are documented.
    package var properties: [Property]
    /// What the mapping is for.
    package var summary: String

    /// Creates an object schema.
    package init(_ summary: String, _ properties: [Property]) {
        self.summary = summary
        self.properties = properties
    }

    /// The names of the keys.
    package var keys: [String] { properties.map(\.name) }

    /// The property called `name`.
    package func property(_ name: String) -> Property? { properties.first { $0.name == name } }
}

/// One key of a mapping.
package struct Property: Sendable {
    /// The key.
    package var name: String
    /// Its schema.
    package var schema: Schema
    /// Whether it must be present.
    package var required: Bool
    /// What it means, for `--help`-style docs and the JSON Schema.
    package var summary: String
    /// The default, shown in docs and exported to the JSON Schema.
    package var defaultValue: DefaultValue?

    /// Creates a property.
    package init(
        _ name: String, _ schema: Schema, required: Bool = false, default defaultValue: DefaultValue? = nil,
        _ summary: String
    ) {
        self.name = name
        self.schema = schema
        self.required = required
        self.summary = summary
        self.defaultValue = defaultValue
    }
}

/// A default value, for documentation.
package enum DefaultValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case strings([String])
}

/// Restrictions on a string.
package struct StringRule: Sendable {
    /// The only values allowed, if not empty.
    package var allowed: [String]
    /// A regular expression the whole string must match (ECMAScript-compatible subset).
    package var pattern: String?
    /// What the pattern means, in words: "a ratio like 4:5".
    package var patternMeaning: String?
    /// Minimum length in characters.
    package var minLength: Int?
    /// Maximum length in characters.
    package var maxLength: Int?
    /// A JSON Schema format, such as `date-time`.
    package var format: String?

    /// Creates a rule.
    package init(
        allowed: [String] = [], pattern: String? = nil, meaning: String? = nil, minLength: Int? = nil,
        maxLength: Int? = nil, format: String? = nil
    ) {
        self.allowed = allowed
        self.pattern = pattern
        self.patternMeaning = meaning
        self.minLength = minLength
        self.maxLength = maxLength
        self.format = format
    }

    /// `'a', 'b' or 'c'`.
    package var allowedList: String {
        let quoted = allowed.map { "'\($0)'" }
        guard quoted.count > 1 else { return quoted.first ?? "" }
        return quoted.dropLast().joined(separator: ", ") + " or " + (quoted.last ?? "")
    }
}

/// An allowed numeric range, with an optional reason shown when the minimum is not met.
package struct NumberRange: Sendable {
    /// Smallest value allowed.
    package var minimum: Double?
    /// Largest value allowed.
    package var maximum: Double?
    /// Whether the maximum itself is excluded.
    package var exclusiveMaximum: Bool
    /// Why the minimum exists, for example "Fanvue's minimum price".
    package var minimumReason: String?

    /// Creates a range.
    package init(min: Double? = nil, max: Double? = nil, exclusiveMax: Bool = false, minimumReason: String? = nil) {
        self.minimum = min
        self.maximum = max
        self.exclusiveMaximum = exclusiveMax
        self.minimumReason = minimumReason
    }
}
