import ElenaCore
import ElenaEngine
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

    /// Reads a recorded summary back into its value.
    /// - Throws: `StageError` naming the type when the text does not decode (a record from another version).
    static func decode<T: Decodable>(_ type: T.Type, from summary: JSONText) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(summary.text.utf8))
        } catch {
            throw StageError("a recorded \(T.self) does not read: \(error)")
        }
    }
}
