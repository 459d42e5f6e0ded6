package import Foundation

/// ISO 8601 timestamps, the one text form used for times in manifests, sidecars and the database.
/// Formatting and the common parse path are plain arithmetic (no formatter objects), because the run cache
/// reads tens of thousands of them.
package enum Timestamp {
    /// Parses `2026-12-01T18:00:00Z`, with or without fractional seconds, with `Z` or a `±HH:MM` offset.
    package static func parse(_ text: String) -> Date? {
        var utf8 = Array(text.utf8)
        guard utf8.count >= 20 else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for index in start..<(start + count) {
                guard index < utf8.count, (48...57).contains(utf8[index]) else { return nil }
                value = value * 10 + Int(utf8[index] - 48)
            }
            return value
        }
        guard let year = digits(0, 4), utf8[4] == 45, let month = digits(5, 2), utf8[7] == 45, let day = digits(8, 2),
            utf8[10] == 84 || utf8[10] == 116 || utf8[10] == 32, let hour = digits(11, 2), utf8[13] == 58,
            let minute = digits(14, 2), utf8[16] == 58, let second = digits(17, 2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var index = 19
        var nanoseconds = 0
        if index < utf8.count, utf8[index] == 46 {
            index += 1
            let start = index
            var scale = 100_000_000
            while index < utf8.count, (48...57).contains(utf8[index]) {
                nanoseconds += Int(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        guard index < utf8.count else { return nil }
        if utf8[index] == 90 || utf8[index] == 122 {
            index += 1
        } else if utf8[index] == 43 || utf8[index] == 45 {
            let sign = utf8[index] == 45 ? -1 : 1
            guard let hours = digits(index + 1, 2), index + 3 < utf8.count, utf8[index + 3] == 58,
                let minutes = digits(index + 4, 2)
            else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index += 6
        } else {
            return nil
        }
        guard index == utf8.count else { return nil }
        utf8.removeAll()
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }

    /// `2026-12-01T18:00:00.123Z` (UTC, milliseconds).
    package static func format(_ date: Date) -> String {
        // Nearest millisecond: a parsed ".376" is 0.375999… in binary and must print as .376 again.
        let totalMilliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = totalMilliseconds.floorDivided(by: 1000)
        let milliseconds = totalMilliseconds - seconds * 1000
        let days = seconds.floorDivided(by: 86_400)
        seconds -= days * 86_400
        let (year, month, day) = civilFromDays(days)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):"
            + "\(pad(seconds % 60, 2)).\(pad(milliseconds, 3))Z"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day count since 1970-01-01.
    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int {
    /// Division rounding towards negative infinity.
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
