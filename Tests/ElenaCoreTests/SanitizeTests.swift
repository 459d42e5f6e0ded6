import ElenaCore
import ElenaTestKit
import Testing

@Suite struct SanitizeTests {
    @Test(arguments: [
        ("ComfyUI_00001_", "ComfyUI_00001_"),
        ("drop-03.v2", "drop-03.v2"),
        ("my photo (1)", "my_photo__1_"),
        ("a/b\\c:d", "a_b_c_d"),
        ("café", "caf_"),
        ("👩‍👩‍👧", "_"),  // one character, one underscore
        ("a\r\nb", "a_b"),  // "\r\n" is one character too, though both its bytes are ASCII
        ("x\ty", "x_y"),
        ("..hidden", "hidden"),
        (".", "image"),
        ("...", "image"),
        ("", "image"),
    ])
    func stems(input: String, expected: String) {
        #expect(Sanitize.stem(input) == expected)
    }

    @Test func stemsAreAtMostOneHundredCharacters() {
        let long = String(repeating: "a", count: 150)
        #expect(Sanitize.stem(long) == String(repeating: "a", count: 100))
        #expect(Sanitize.stem(String(repeating: "é", count: 150)).count == 100)
    }

    @Test func sanitizedStemsOnlyHoldSafeCharacters() {
        var random = SeededRandom(seed: 3)
        let alphabet = Array("aZ09-_. /\\:*?\"<>|é中😀\n\t")
        for _ in 0..<500 {
            let input = String((0..<Int.random(in: 0...30, using: &random)).map { _ in alphabet.randomElement(using: &random) ?? "a" })
            let stem = Sanitize.stem(input)
            #expect(!stem.isEmpty && stem.count <= 100 && !stem.hasPrefix("."), "\(input.debugDescription)")
            #expect(stem.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }, "\(stem)")
        }
    }
}
