import ElenaCore
import Testing

@Suite struct JSONTextTests {
    @Test func wrapsSerializedValuesAndParsesThemBack() {
        let value = JSONValue.object([.init("b", .int(2)), .init("a", .array([.string("x"), .double(0.5)]))])
        let text = JSONText(value)
        #expect(text.text == #"{"b":2,"a":["x",0.5]}"#)
        #expect(text.description == text.text)
        #expect(text.value == value)
    }

    @Test func storedTextIsKeptAsWritten() {
        let text = JSONText(text: "{ \"a\" : 1 }")
        #expect(text.text == "{ \"a\" : 1 }")
        #expect(text.value == .object([.init("a", .int(1))]))
    }

    @Test(arguments: ["", "not json", "{\"a\":", "[1,2"])
    func invalidTextReadsAsNull(text: String) {
        #expect(JSONText(text: text).value == .null)
    }

    @Test func nullConstant() {
        #expect(JSONText.null.text == "null")
        #expect(JSONText.null.value == .null)
        #expect(JSONText(.null) == JSONText.null)
    }

    @Test func equalityIsByText() {
        #expect(JSONText(text: "{\"a\":1}") != JSONText(text: "{\"a\": 1}"))
        #expect(JSONText(text: "{\"a\":1}") == JSONText(.object([.init("a", .int(1))])))
    }
}
