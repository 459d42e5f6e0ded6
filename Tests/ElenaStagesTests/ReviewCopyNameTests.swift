import ElenaStages
import Testing

/// Which files in the review folders a run takes for review copies (`<name>.<8 hex digits>.jpg|png`); the others
/// are reported as ignored.
@Suite struct ReviewCopyNameTests {
    @Test(arguments: [
        ("ComfyUI_00001_.0a1b2c3d.jpg", true),
        ("a.01234567.png", true),
        ("my.photo.89abcdef.jpg", true),
        ("café 😀.0a1b2c3d.jpg", true),
        (".01234567.jpg", false),  // no name before the digest
        ("..01234567.jpg", false),
        ("a.0A1B2C3D.jpg", false),  // the digest is lower-case hex
        ("a.0a1b2c3.jpg", false),  // seven digits
        ("a.0a1b2c3d4.jpg", false),  // nine
        ("a.0a1b2c3g.jpg", false),
        ("a.0a1b2c3d.jpeg", false),
        ("a.0a1b2c3d.JPG", false),
        ("a_0a1b2c3d.jpg", false),
        ("a.0a1b2c3d", false),
        ("notes.txt", false),
        ("", false),
    ])
    func reviewCopyNames(name: String, expected: Bool) {
        #expect(DropSession.isReviewCopyName(name) == expected)
    }
}
