public import Foundation

/// ISO 8601 timestamps, the one text form used for times in manifests, sidecars and the database.
public enum Timestamp {
    /// Parses `2026-12-01T18:00:00Z`, with or without fractional seconds, with `Z` or an offset.
    public static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    /// `2026-12-01T18:00:00.123Z` (UTC, milliseconds).
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
