import ElenaCore
import Testing

@Suite struct LibraryLayoutTests {
    static let layout = LibraryLayout(root: "/home/elena/elena-content-pipeline")
    static let digest = Digest.of("crop bytes")

    @Test func aTrailingSlashOnTheRootIsDropped() {
        #expect(LibraryLayout(root: "/lib/").root == "/lib")
        #expect(LibraryLayout(root: "/lib/").absolute("x") == "/lib/x")
        #expect(LibraryLayout(root: "/").root == "/")
    }

    @Test func absolutePaths() {
        #expect(Self.layout.defaultDatabase == "/home/elena/elena-content-pipeline/elena.db")
        #expect(Self.layout.absolute("1_raw/drop-03/a.png") == "/home/elena/elena-content-pipeline/1_raw/drop-03/a.png")
        #expect(Self.layout.defaultOutbox(drop: "drop-03") == "/home/elena/elena-content-pipeline/outbox/drop-03")
    }

    @Test(arguments: [
        ("ComfyUI_00001_.PNG", "1_raw/drop-03/ComfyUI_00001_.png"), ("photo.jpeg", "1_raw/drop-03/ComfyUI_00001_.jpeg"),
        ("noext", "1_raw/drop-03/ComfyUI_00001_"),
    ])
    func rawCopyKeepsTheLowercasedSourceExtension(sourceName: String, expected: String) {
        #expect(Self.layout.raw(drop: "drop-03", stem: "ComfyUI_00001_", sourceName: sourceName) == expected)
    }

    @Test func cropsAndReviewCopiesAreNamedPerVersion() {
        let eight = Self.digest.prefix(8)
        #expect(Self.layout.reviewFileName(stem: "img", digest: Self.digest, format: .jpeg) == "img.\(eight).jpg")
        #expect(Self.layout.reviewFileName(stem: "img", digest: Self.digest, format: .png) == "img.\(eight).png")
        #expect(Self.layout.cropped(drop: "drop-03", stem: "img", digest: Self.digest, format: .jpeg) == "2_cropped/drop-03/img.\(eight).jpg")
        let other = Self.layout.reviewFileName(stem: "img", digest: Digest.of("other crop"), format: .jpeg)
        #expect(other != Self.layout.reviewFileName(stem: "img", digest: Self.digest, format: .jpeg))
    }

    @Test func reviewFolders() {
        #expect(Self.layout.folder(.review, drop: "drop-03") == "3_review/drop-03")
        #expect(Self.layout.folder(.approved, drop: "drop-03") == "4_approved/drop-03")
        #expect(Self.layout.folder(.uploaded, drop: "d") == "5_uploaded/d")
        #expect(Self.layout.folder(.rejected, drop: "d") == "rejected/d")
        #expect(LibraryLayout.topFolders == ["1_raw", "2_cropped", "3_review", "4_approved", "5_uploaded", "rejected", "outbox"])
    }
}
