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
}
