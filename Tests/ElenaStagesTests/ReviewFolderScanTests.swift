import ElenaCore
import ElenaStages
import ElenaTestKit
import Testing

/// A drop's run looks at its own review copies, wherever a person moved them, and not at every other drop's: a
/// library of 100,000 items in other drops scanned 100,500 files for a drop of 500.
@Suite struct ReviewFolderScanTests {
    @Test func aDropScansItsOwnFoldersFlatMovesAndLooseSubFoldersButNotOtherDrops() throws {
        let library = try TemporaryDirectory("elena-scan")
        defer { library.remove() }
        for file in [
            "3_review/mine/a.0123abcd.jpg",  // waiting, in the drop's own folder
            "4_approved/b.0123abcd.jpg",  // moved flat into 4_approved
            "rejected/by-hand/deeper/c.0123abcd.jpg",  // moved into a folder of the person's own
            "4_approved/mine/d.0123abcd.jpg",
            "3_review/other/x.0123abcd.jpg",  // another drop's
            "4_approved/other/y.0123abcd.jpg",
            "5_uploaded/other/z.0123abcd.jpg",
        ] {
            _ = try library.write("copy", to: file)
        }
        let layout = LibraryLayout(root: library.path)
        let index = ReviewFolderIndex.scan(layout, drop: "mine", otherDrops: ["other", "gone"])
        #expect(index.files.mapValues(\.path) == [
            "a.0123abcd.jpg": "3_review/mine/a.0123abcd.jpg",
            "b.0123abcd.jpg": "4_approved/b.0123abcd.jpg",
            "c.0123abcd.jpg": "rejected/by-hand/deeper/c.0123abcd.jpg",
            "d.0123abcd.jpg": "4_approved/mine/d.0123abcd.jpg",
        ])
        #expect(index.files["c.0123abcd.jpg"]?.folder == .rejected)

        // The other drop sees its own, and the flat and loose ones every drop may have been given.
        let other = ReviewFolderIndex.scan(layout, drop: "other", otherDrops: ["mine"])
        #expect(Set(other.files.keys) == ["x.0123abcd.jpg", "y.0123abcd.jpg", "z.0123abcd.jpg", "b.0123abcd.jpg", "c.0123abcd.jpg"])
    }

    /// A name found in two folders at once counts once: the first decided folder (in the order 4_approved,
    /// 5_uploaded, rejected) over 3_review, and of copies only in 3_review, the last found; a name is looked up as
    /// it is, with nothing found for a name no folder holds, for a name's start or for its path.
    @Test func aNameInTwoFoldersCountsOnceAndTheDecidedOneWins() throws {
        let library = try TemporaryDirectory("elena-scan")
        defer { library.remove() }
        for file in [
            "3_review/mine/a.0123abcd.jpg", "4_approved/a.0123abcd.jpg",  // moved by copying: approved wins
            "3_review/mine/b.0123abcd.jpg", "rejected/b.0123abcd.jpg", "4_approved/mine/b.0123abcd.jpg",
            "3_review/mine/c.0123abcd.jpg", "3_review/mine/sub/c.0123abcd.jpg",
            "3_review/mine/d.0123abcd.jpg",
        ] {
            _ = try library.write("copy", to: file)
        }
        let index = ReviewFolderIndex.scan(LibraryLayout(root: library.path), drop: "mine", otherDrops: [])
        #expect(index.count == 4)
        #expect(index["a.0123abcd.jpg"]?.path == "4_approved/a.0123abcd.jpg")
        #expect(index["b.0123abcd.jpg"]?.path == "4_approved/mine/b.0123abcd.jpg")
        #expect(index["b.0123abcd.jpg"]?.folder == .approved)
        #expect(index["c.0123abcd.jpg"]?.folder == .review)
        #expect(index["d.0123abcd.jpg"]?.path == "3_review/mine/d.0123abcd.jpg")
        for absent in ["e.0123abcd.jpg", "a.0123abcd", "mine/a.0123abcd.jpg", "", "zz"] { #expect(index[absent] == nil, "\(absent)") }
        #expect(ReviewFolderIndex()["a.0123abcd.jpg"] == nil)
    }
}
