import ElenaCore
import Foundation

/// Conversions between `Codable` values and `JSONValue` summaries.
enum JSONCoding {
    static func value<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8),
            let parsed = try? JSONValue.parse(text)
        else { return .null }
        return parsed
    }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue?) -> T? {
        guard let value else { return nil }
        return try? JSONDecoder().decode(type, from: Data(value.serialized().utf8))
    }
}
