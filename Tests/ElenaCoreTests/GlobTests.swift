import ElenaCore
import Testing

@Suite struct GlobTests {
    @Test(arguments: [
        ("*.png", "ComfyUI_00001_.png", true),
        ("*.png", "ComfyUI_00001_.PNG", true),
        ("*.png", "photo.jpg", false),
        ("ComfyUI_0004*", "ComfyUI_00041_.png", true),
        ("ComfyUI_0004*", "ComfyUI_00014_.png", false),
        ("img_?.jpg", "img_7.jpg", true),
        ("img_?.jpg", "img_77.jpg", false),
        ("img_[0-3].jpg", "img_2.jpg", true),
        ("img_[!0-3].jpg", "img_2.jpg", false),
        ("*", "", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
    ])
    func matches(pattern: String, name: String, expected: Bool) {
        #expect(Glob(pattern, caseInsensitive: true).matches(name) == expected)
    }

    /// A pattern that is a star and plain text is matched by the name's last bytes when the name is ASCII: the same
    /// answers as matching character by character gives, with case ignored or not, for ASCII names and others.
    @Test(arguments: [
        ("*.png", "a.png"), ("*.png", "A.PNG"), ("*.PNG", "a.png"), ("*.png", ".png"), ("*.png", "png"), ("*.png", ""),
        ("*.png", "a.png.jpg"), ("*.png", "café.png"), ("*.png", "CAFÉ.PNG"), ("*.png", "a.pn\u{0067}\u{301}"),
        ("*.jpeg", "x.JPEG"), ("*", "anything"), ("*_v2.png", "shot_V2.PNG"), ("*.png", "a\r\n.png"),
        ("*.png", "a.\u{212A}png"), ("*k.png", "a\u{212A}.png"),
    ])
    func aStarAndTextMatchesAsCharactersDo(pattern: String, name: String) {
        for caseInsensitive in [true, false] {
            let fold = { (text: String) in caseInsensitive ? text.lowercased() : text }
            let expected = Array(fold(name)).reversed().starts(with: Array(fold(String(pattern.dropFirst()))).reversed())
            #expect(
                Glob(pattern, caseInsensitive: caseInsensitive).matches(name) == expected,
                "\(pattern) \(name.unicodeScalars.map(\.value)) \(caseInsensitive)")
        }
    }
}
