package import Foundation
package import ElenaCore

/// A value bound to, or read from, a SQL statement, in the small common subset both databases share.
package enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    /// A timestamp: `timestamptz` in PostgreSQL, ISO 8601 text in SQLite.
    case date(Date)
    /// JSON: `jsonb` in PostgreSQL, text in SQLite.
    case json(String)
    case bool(Bool)
    /// A SHA-256 digest, bound as its 64 lower-case hex characters. Both databases read a text column holding
    /// exactly those as one, with no string made (a ledger row holds up to three, and a big drop's start reads
    /// 300,000 run-cache rows); `string` gives the same text back.
    case digest(Digest)
    /// Raw bytes: `bytea` in PostgreSQL, a blob in SQLite (only the run cache's compact parts are stored so).
    case bytes([UInt8])

    /// `.text`, or `.null` for nil.
    package static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    /// `.int`, or `.null` for nil.
    package static func int(_ value: Int?) -> SQLValue { value.map { .int(Int64($0)) } ?? .null }
    /// `.date`, or `.null` for nil.
    package static func date(_ value: Date?) -> SQLValue { value.map { .date($0) } ?? .null }
    /// `.json`, or `.null` for nil.
    package static func json(_ value: String?) -> SQLValue { value.map { .json($0) } ?? .null }
}

/// One result row, with access by column name.
package struct SQLRow: Sendable {
    /// The columns' names, in column order: a handful, found by a look along them (the last of a name counts), which
    /// costs less than hashing the name on every read (a big drop reads 300,000 run-cache rows, seven columns each).
    package let names: [String]
    /// The values in column order.
    package let values: [SQLValue]

    /// Creates a row.
    package init(names: [String], values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    /// The raw value of a column (`.null` when absent).
    package subscript(_ name: String) -> SQLValue {
        guard let index = names.lastIndex(of: name), index < values.count else { return .null }
        return values[index]
    }

    /// A text column.
    package func string(_ name: String) -> String? {
        switch self[name] {
        case .text(let text), .json(let text): return text
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .date(let date): return ISO8601.format(date)
        case .bool(let flag): return flag ? "true" : "false"
        case .digest(let digest): return digest.hex
        case .bytes, .null: return nil
        }
    }

    /// A bytes column; nil when it holds anything else.
    package func bytes(_ name: String) -> [UInt8]? {
        guard case .bytes(let bytes) = self[name] else { return nil }
        return bytes
    }

    /// A digest column (64 hex characters); nil when it holds anything else.
    package func digest(_ name: String) -> Digest? {
        switch self[name] {
        case .digest(let digest): return digest
        case .text(let text): return Digest(hex: text)
        default: return nil
        }
    }

    /// An integer column.
    package func int64(_ name: String) -> Int64? {
        switch self[name] {
        case .int(let number): return number
        case .double(let number): return Int64(number)
        case .text(let text): return Int64(text)
        case .digest(let digest): return Int64(digest.hex)
        case .bool(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// An integer column as `Int`.
    package func int(_ name: String) -> Int? { int64(name).map { Int($0) } }

    /// A floating-point column.
    package func double(_ name: String) -> Double? {
        switch self[name] {
        case .double(let number): return number
        case .int(let number): return Double(number)
        case .text(let text): return Double(text)
        case .digest(let digest): return Double(digest.hex)
        default: return nil
        }
    }

    /// A timestamp column (timestamptz, or ISO text).
    package func date(_ name: String) -> Date? {
        switch self[name] {
        case .date(let date): return date
        case .text(let text): return ISO8601.parse(text)
        default: return nil
        }
    }
}

/// The one text format for timestamps stored as text (shared with the rest of the tool).
package enum ISO8601 {
    /// `2026-11-25T12:00:00.000Z`.
    package static func format(_ date: Date) -> String { Timestamp.format(date) }

    /// Parses ISO 8601 with or without fractional seconds.
    package static func parse(_ text: String) -> Date? { Timestamp.parse(text) }
}
