import ElenaCore
import ElenaEngine
import Foundation
import Testing

/// `FileSystem.survey` looks at a folder of many files from several threads at once: what it finds must be what one
/// thread finds, file by file.
@Suite struct SurveyTests {
    @Test func aFolderOfManyFilesIsSurveyedWholeFileByFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("elena-survey-\(UUID().uuidString)").path
        let outside = folder + "-outside.png"
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: outside)
        }
        // More names than one thread takes (4,096), each file with a size of its own among its neighbours.
        let names = (0..<5_000).map { String(format: "p%05d.png", $0) }
        for (index, name) in names.enumerated() {
            #expect(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data(count: 1 + index % 251)))
        }
        #expect(FileManager.default.createFile(atPath: folder + "/sub/inner.png", contents: Data("inner".utf8)))
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("outside".utf8)))
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.png", withDestinationPath: folder + "/p00007.png")
        try FileManager.default.createSymbolicLink(atPath: folder + "/dangling.png", withDestinationPath: folder + "/gone.png")
        try FileManager.default.createSymbolicLink(atPath: folder + "/away.png", withDestinationPath: outside)

        let (entries, problems) = try FileSystem.survey(folder, recursive: true)

        let expected = (names + ["link.png", "sub/inner.png"]).sorted()
        let found = entries.map(\.relativePath)
        #expect(Set(expected).symmetricDifference(found).sorted() == [])
        #expect(found.elementsEqual(expected), "in the order of their paths")
        for entry in entries {
            #expect(entry.stamp == FileSystem.stamp(entry.path), "\(entry.relativePath)")
        }
        #expect(entries.first { $0.relativePath == "p04999.png" }?.stamp.size == Int64(1 + 4_999 % 251))
        #expect(entries.first { $0.relativePath == "link.png" }?.path.hasSuffix("/p00007.png") == true)
        #expect(problems.map(\.relativePath) == ["away.png", "dangling.png"])
        #expect(problems.map(\.reason) == [
            "a symbolic link to a file outside the source folder; not followed",
            "a symbolic link to a file that does not exist",
        ])
    }
}
