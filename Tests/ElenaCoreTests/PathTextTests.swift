import ElenaCore
import Testing

@Suite struct PathTextTests {
    static let base = "/work/pipelines"
    static let home = "/home/elena"

    @Test(arguments: [
        ("~", "/home/elena"),
        ("~/", "/home/elena"),
        ("~/ComfyUI/output/elena", "/home/elena/ComfyUI/output/elena"),
        ("~/a/../b", "/home/elena/b"),
        ("images", "/work/pipelines/images"),
        ("./images/", "/work/pipelines/images"),
        ("../images", "/work/images"),
        ("../../../../images", "/images"),  // `..` stops at the root
        ("/abs/./a//b/", "/abs/a/b"),
        ("/", "/"),
        ("", "/work/pipelines"),
        (".", "/work/pipelines"),
        ("~elena/x", "/work/pipelines/~elena/x"),  // only `~` and `~/` expand
        ("a/~/b", "/work/pipelines/a/~/b"),
    ])
    func resolve(path: String, expected: String) {
        #expect(PathText.resolve(path, relativeTo: Self.base, home: Self.home) == expected)
    }

    @Test func aHomeWithATrailingSlashStillGivesCleanPaths() {
        #expect(PathText.resolve("~/x", relativeTo: "/", home: "/home/elena/") == "/home/elena/x")
    }

    @Test(arguments: [("/a/b/c.yaml", "/a/b"), ("/c.yaml", "/"), ("c.yaml", "."), ("a/b", "a"), ("/já/中文/x", "/já/中文")])
    func directory(path: String, expected: String) {
        #expect(PathText.directory(of: path) == expected)
    }

    @Test(arguments: [
        ("/a/b/c.png", "c.png"), ("c.png", "c.png"), ("a/b/", ""), ("/já/中文/café 😀.png", "café 😀.png"), ("/é/\u{301}x", "\u{301}x"),
    ])
    func lastComponent(path: String, expected: String) {
        #expect(PathText.lastComponent(path) == expected)
    }

    @Test(arguments: [
        ("photo.png", "photo", "png"), ("archive.tar.gz", "archive.tar", "gz"), (".hidden", ".hidden", ""),
        ("noext", "noext", ""), ("trailing.", "trailing", ""),
    ])
    func splitExtension(name: String, stem: String, ext: String) {
        let split = PathText.splitExtension(name)
        #expect(split.stem == stem)
        #expect(split.ext == ext)
    }

    @Test(arguments: [
        ("/lib/1_raw/x.png", "/lib", "1_raw/x.png"), ("/lib/1_raw/x.png", "/lib/", "1_raw/x.png"),
        ("/library/x.png", "/lib", "/library/x.png"),  // a shared prefix is not a parent folder
        ("/other/x.png", "/lib", "/other/x.png"),
    ])
    func relative(path: String, base: String, expected: String) {
        #expect(PathText.relative(path, to: base) == expected)
    }
}
