import ElenaCore
import Testing

@Suite struct JSONValueTests {
    // MARK: - Parsing and serializing

    @Test func parsesEveryKindOfValueAndKeepsKeyOrder() throws {
        let text = #"{"b":1,"a":[true,false,null,1.5,-2,"x"],"c":{}}"#
        let value = try JSONValue.parse(text)
        guard case .object(let members) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "c"])
        #expect(value["b"] == .int(1))
        #expect(value["a"] == .array([.bool(true), .bool(false), .null, .double(1.5), .int(-2), .string("x")]))
        #expect(value["c"] == .object([]))
        #expect(value.serialized() == text)
    }

    @Test func canonicalSerializationSortsKeysAtEveryDepth() throws {
        let value = try JSONValue.parse(#"{"z":1,"a":{"y":[{"q":1,"b":2}],"b":null},"m":"x"}"#)
        #expect(value.serialized(canonical: true) == #"{"a":{"b":null,"y":[{"b":2,"q":1}]},"m":"x","z":1}"#)
        // Two objects with the same members in another order are different values but have the same canonical bytes.
        let other = try JSONValue.parse(#"{"m":"x","a":{"b":null,"y":[{"b":2,"q":1}]},"z":1}"#)
        #expect(value != other)
        #expect(value.serialized(canonical: true) == other.serialized(canonical: true))
        #expect(value.serialized() != other.serialized())
    }

    @Test func whitespaceIsAllowedAroundTokens() throws {
        let value = try JSONValue.parse(" \n\t{ \"a\" : [ 1 , 2 ] }\r\n ")
        #expect(value == .object([.init("a", .array([.int(1), .int(2)]))]))
    }

    @Test func prettyOutputIsIndentedByTwoSpacesAndEndsWithANewline() {
        let value = JSONValue.object([
            .init("a", .array([.int(1), .int(2)])), .init("b", .object([])), .init("c", .array([])),
            .init("d", .object([.init("e", .string("f"))])),
        ])
        #expect(
            value.pretty() == """
                {
                  "a": [
                    1,
                    2
                  ],
                  "b": {},
                  "c": [],
                  "d": {
                    "e": "f"
                  }
                }

                """)
    }

    // MARK: - Numbers

    @Test(arguments: [
        ("0", JSONValue.int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("9223372036854775807", .int(Int.max)),
        ("-9223372036854775808", .int(Int.min)),
        ("9223372036854775808", .double(9_223_372_036_854_775_808)),  // too big for Int: a double
        ("1.0", .double(1.0)),
        ("1.5", .double(1.5)),
        ("-0.25", .double(-0.25)),
        ("1e3", .double(1000)),
        ("1E-2", .double(0.01)),
        ("2.5e+2", .double(250)),
    ])
    func integersStayIntegersAndOthersAreDoubles(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test(arguments: [
        (JSONValue.double(2.5), "2.5"),
        (.double(0.1), "0.1"),
        (.double(1.0), "1"),  // a whole double is written as an integer
        (.double(-3.0), "-3"),
        (.double(1e20), "1e+20"),
        (.double(.nan), "null"),
        (.double(.infinity), "null"),
        (.int(Int.min), "-9223372036854775808"),
    ])
    func numbersAreWrittenTheShortWay(value: JSONValue, text: String) {
        #expect(value.serialized() == text)
    }

    @Test func writtenDoublesParseBackToTheSameNumber() throws {
        for number in [0.1, 2.5, -1e-7, 1e20, 123_456.789, Double.pi, 5e-324, 1.7976931348623157e308] {
            let parsed = try JSONValue.parse(JSONValue.double(number).serialized())
            #expect(parsed.doubleValue == number, "\(number)")
        }
        // A whole double comes back as an integer with the same value.
        #expect(try JSONValue.parse(JSONValue.double(3).serialized()) == .int(3))
    }

    @Test func numberAccessors() {
        #expect(JSONValue.double(3).intValue == 3)
        #expect(JSONValue.double(3.5).intValue == nil)
        #expect(JSONValue.double(1e300).intValue == nil)
        #expect(JSONValue.int(2).doubleValue == 2)
        #expect(JSONValue.string("2").intValue == nil)
        #expect(JSONValue.string("2").doubleValue == nil)
        #expect(JSONValue.bool(true).boolValue == true)
        #expect(JSONValue.int(1).boolValue == nil)
        #expect(JSONValue.array([.null]).arrayValue == [.null])
        #expect(JSONValue.string("x").stringValue == "x")
        #expect(JSONValue.int(1).stringValue == nil)
        #expect(JSONValue.array([]).stringValue == nil)
        #expect(JSONValue.array([.int(1)])["a"] == nil)
    }

    @Test func objectFromPairsDropsNilValues() {
        let value = JSONValue.object(["a": .int(1), "b": nil, "c": .string("x")])
        #expect(value == .object([.init("a", .int(1)), .init("c", .string("x"))]))
        #expect(value.serialized() == #"{"a":1,"c":"x"}"#)
    }

    // MARK: - Strings

    @Test(arguments: [
        (#""\u00e9\u4E2D""#, "é中"),
        (#""\ud83d\ude00""#, "😀"),  // a surrogate pair is one scalar
        (#""\uD83D\uDE00 ok""#, "😀 ok"),
        (#""a\"b\\c\/d""#, "a\"b\\c/d"),
        (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
        (#""\u0000""#, "\u{0}"),
        (#""\ud800""#, "\u{FFFD}"),  // a lone high surrogate
        (#""\udc00x""#, "\u{FFFD}x"),  // a lone low surrogate
        (#""\ud800x""#, "\u{FFFD}x"),
        ("\"raw é 中 😀\"", "raw é 中 😀"),  // UTF-8 passes through
        (#""mixed \u00e9 and é""#, "mixed é and é"),
    ])
    func decodesEscapes(text: String, expected: String) throws {
        #expect(try JSONValue.parse(text) == .string(expected))
    }

    @Test func aHighSurrogateFollowedByAnotherEscapeKeepsTheOtherCharacter() throws {
        let value = try JSONValue.parse(#""\ud800\u0041""#)
        #expect(value == .string("\u{FFFD}A"))
    }

    @Test func stringsAreEscapedOnlyWhereJSONRequires() {
        let text = "q\"b\\n\nr\rt\tc\u{01}u\u{1F}d\u{7F}/é😀"
        let written = JSONValue.string(text).serialized()
        #expect(written == #""q\"b\\n\nr\rt\tc\u0001u\u001fd"# + "\u{7F}/é😀\"")
    }

    @Test func stringsRoundTrip() throws {
        let samples = [
            "", "plain", "quote \" and backslash \\", "line\nbreak", "\u{0}\u{1}\u{1F}", "é 中 😀 👩‍👩‍👧", "\u{FFFF}",
            "\u{10FFFF}", "{\"json\": [\"inside\"]}",
        ]
        for sample in samples {
            let value = JSONValue.object([.init(sample, .string(sample))])
            #expect(try JSONValue.parse(value.serialized()) == value, "\(sample.debugDescription)")
            #expect(try JSONValue.parse(value.pretty()) == value, "\(sample.debugDescription)")
        }
    }

    @Test func aNestedValueRoundTrips() throws {
        let value = JSONValue.object([
            .init("seed", .int(884_213_377)), .init("cfg", .double(5.5)), .init("name", .string("élan \"v3\"")),
            .init("loras", .array([.object([.init("name", .string("a")), .init("w", .double(0.35))]), .null])),
            .init("ok", .bool(true)), .init("empty", .object([])),
        ])
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(try JSONValue.parse(value.serialized(canonical: true)).serialized(canonical: true) == value.serialized(canonical: true))
        #expect(try JSONValue.parse(value.pretty()) == value)
    }

    // MARK: - Errors

    @Test(arguments: [
        ("", 0, "unexpected end"),
        ("   ", 3, "unexpected end"),
        ("tru", 0, "unexpected character"),
        ("nul", 0, "unexpected character"),
        ("-", 0, "unexpected character"),
        ("[1,]", 3, "unexpected character"),
        (#"{"a":1,}"#, 7, "expected a key"),
        ("{1:2}", 1, "expected a key"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[1,2", 4, "unexpected end in list"),
        (#"{"a":1"#, 6, "unexpected end in object"),
        (#""abc"#, 4, "unterminated string"),
        ("\"a\nb\"", 2, "control character in string"),
        (#""\x""#, 3, "bad escape"),
        (#""\u12G4""#, 5, #"bad \u escape"#),
        (#""\u12""#, 3, #"short \u escape"#),
        ("1 2", 2, "extra text after the value"),
        ("\"é\" x", 5, "extra text after the value"),  // offsets count bytes: é is two
        ("{} {}", 3, "extra text after the value"),
    ])
    func parseErrorsGiveTheByteOffset(text: String, offset: Int, reason: String) {
        #expect {
            try JSONValue.parse(text)
        } throws: { error in
            guard let error = error as? JSONValue.ParseError else { return false }
            return error.offset == offset && error.reason == reason
                && error.description == "invalid JSON at byte \(offset): \(reason)"
        }
    }

    @Test func deepNestingIsRefusedButModerateNestingIsFine() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let error = try #require(throws: JSONValue.ParseError.self) { try JSONValue.parse(deep) }
        #expect(error.reason == "nested too deeply")
        #expect(error.offset == 512)

        let moderate = String(repeating: "[", count: 200) + "1" + String(repeating: "]", count: 200)
        var value = try JSONValue.parse(moderate)
        var depth = 0
        while case .array(let inner) = value, let first = inner.first {
            value = first
            depth += 1
        }
        #expect(depth == 200)
        #expect(value == .int(1))
    }

    @Test(arguments: ["+1", "01", ".5"])
    func numbersOutsideTheJSONGrammarAreRejected(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(text) }
    }

    /// Reading one value by its path gives what the whole parse gives there, whatever comes before it.
    @Test func aPathReadsWhatTheWholeParseReads() throws {
        let text = #"""
            {"faces": 2, "detector": {"name": "blaze", "scores": [0.9, {"x": "}]\"{"}]}, "note": "a \"quoted\" , word",
             "decision": {"line": 120, "rect": [0, 0, 10, 20], "flags": ["no_face_found", "small_crop"], "é": true},
             "last": null}
            """#
        let whole = try JSONValue.parse(text)
        for path in [["decision", "flags"], ["decision", "line"], ["decision", "é"], ["faces"], ["last"], ["detector", "scores"],
                     ["note"], ["decision"]] {
            var expected: JSONValue? = whole
            for key in path { expected = expected?[key] }
            #expect(JSONValue.parse(text, at: path) == expected, "\(path)")
        }
        #expect(JSONValue.parse(text, at: ["decision", "missing"]) == nil)
        #expect(JSONValue.parse(text, at: ["faces", "deeper"]) == nil)
        #expect(JSONValue.parse("[1, 2]", at: ["a"]) == nil)
        #expect(JSONValue.parse("{\"a\": ", at: ["a"]) == nil)
        #expect(JSONValue.parse("{\"b\": \"unterminated", at: ["a"]) == nil)
        #expect(JSONValue.parse("", at: ["a"]) == nil)
        #expect(JSONText(text: text).value["decision"]?["flags"] == JSONValue.parse(text, at: ["decision", "flags"]))
    }

    /// Strings with and without escapes parse the same through the fast path and the escape path.
    @Test func stringsWithAndWithoutEscapes() throws {
        #expect(try JSONValue.parse(#""plain é 🙂""#) == .string("plain é 🙂"))
        #expect(try JSONValue.parse(#""tab\tthen \u00e9 \ud83d\ude42""#) == .string("tab\tthen é 🙂"))
        #expect(try JSONValue.parse(#"{"k\"ey": "v"}"#)["k\"ey"] == .string("v"))
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(#""never closed"#) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse("tru") }
        #expect(try JSONValue.parse(" true ") == .bool(true))
    }
}
