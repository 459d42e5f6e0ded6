/// A YAML value after validation, with the location it came from. The manifest builder reads these.
package struct ConfigNode: Sendable, Hashable {
    /// The kinds of value a manifest holds.
    package indirect enum Value: Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
        case array([ConfigNode])
        case object([Entry])
    }

    /// One key of an object, with the location of the key itself.
    package struct Entry: Sendable, Hashable {
        /// The key as written.
        package var key: String
        /// Where the key is written.
        package var keyLocation: SourceLocation
        /// The value under the key.
        package var node: ConfigNode
    }

    /// The value.
    package var value: Value
    /// Where the value starts.
    package var location: SourceLocation

    /// Creates a node.
    package init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }

    /// The child under `key`, when this is an object.
    package subscript(key: String) -> ConfigNode? {
        guard case .object(let entries) = value else { return nil }
        return entries.first { $0.key == key }?.node
    }

    /// Where `key` is written in this object, else this node's own location.
    package func location(ofKey key: String) -> SourceLocation {
        guard case .object(let entries) = value else { return location }
        return entries.first { $0.key == key }?.keyLocation ?? location
    }

    /// The text of a scalar (numbers and booleans as written).
    package var string: String? {
        switch value {
        case .string(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return String(flag)
        default: return nil
        }
    }

    /// An integer value.
    package var int: Int? {
        if case .int(let number) = value { return number }
        return nil
    }

    /// A number, integer or not.
    package var double: Double? {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number
        default: return nil
        }
    }

    /// A boolean value.
    package var bool: Bool? {
        if case .bool(let flag) = value { return flag }
        return nil
    }

    /// The elements of an array, or a single scalar as a one-element list.
    package var list: [ConfigNode]? {
        switch value {
        case .array(let nodes): return nodes
        case .null: return nil
        default: return [self]
        }
    }

    /// The strings of a list of strings (or of a single string).
    package var strings: [String]? { list?.compactMap(\.string) }
}
