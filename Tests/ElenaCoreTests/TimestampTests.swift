import ElenaCore
import ElenaTestKit
import Foundation
import Testing

@Suite struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2026-12-01T18:00:00Z", 1_796_148_000),
        ("2026-12-01T18:00:00.5Z", 1_796_148_000.5),
        ("2026-12-01T19:30:00+01:30", 1_796_148_000),
        ("2026-12-01T13:00:00-05:00", 1_796_148_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800),  // a leap day
        ("1969-12-31T23:59:59Z", -1),
        ("2000-03-01T00:00:00Z", 951_868_800),
    ])
    func parsesInternetDateTimes(text: String, seconds: Double) throws {
        let date = try #require(Timestamp.parse(text))
        #expect(date.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: [
        "", "2026-12-01", "2026-12-01T18:00:00", "2026-12-01T18:00Z", "2026-13-01T18:00:00Z", "2026-12-32T18:00:00Z",
        "2026-12-01T24:00:00Z", "2026-12-01T18:60:00Z", "2026-12-01T18:00:00.Z", "2026-12-01T18:00:00+0100",
        "2026-12-01T18:00:00Zjunk", "tomorrow at six",
    ])
    func rejectsOtherText(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test(arguments: ["2026-02-30T12:00:00Z", "2025-02-29T12:00:00Z", "2026-04-31T12:00:00Z"])
    func rejectsDaysThatDoNotExist(text: String) {
        #expect(Timestamp.parse(text) == nil, "\(text) must not roll over into the next month")
    }

    @Test func formatsInUTCWithMilliseconds() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_796_148_000)) == "2026-12-01T18:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0.25)) == "1970-01-01T00:00:00.250Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_709_164_800)) == "2024-02-29T00:00:00.000Z")
    }

    @Test func wholeSecondsRoundTrip() throws {
        var random = SeededRandom(seed: 98)
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_000_000_000...4_000_000_000, using: &random)
            let text = Timestamp.format(Date(timeIntervalSince1970: Double(seconds)))
            #expect(text.hasSuffix(".000Z"))
            let parsed = try #require(Timestamp.parse(text), "\(text)")
            #expect(parsed.timeIntervalSince1970 == Double(seconds), "\(text)")
        }
    }

    @Test func millisecondsSurviveParseThenFormat() throws {
        let parsed = try #require(Timestamp.parse("1975-05-21T15:15:10.376Z"))
        #expect(Timestamp.format(parsed) == "1975-05-21T15:15:10.376Z")
    }

    @Test func formattedTextParsesBackToTheSameText() throws {
        var random = SeededRandom(seed: 99)
        var texts: [String] = []
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &random)
            texts.append(Timestamp.format(Date(timeIntervalSince1970: Double(milliseconds) / 1000)))
        }
        let parsed = try texts.map { text in try #require(Timestamp.parse(text), "\(text)") }
        for (text, date) in zip(texts, parsed) {
            #expect(Timestamp.format(date) == text)
        }
    }
}
