import ElenaCore
import ElenaEngine
import ElenaTestKit
import Foundation
import Testing

/// Which files of a source folder a drop takes.
@Suite struct SourceDiscoveryTests {
    /// A pattern with a `/` is matched against the path under the source folder (its `*` crosses folders too);
    /// one without, against the file name wherever the file is.
    @Test func aPatternWithASlashMatchesThePathUnderTheFolder() async throws {
        let folder = try TemporaryDirectory("elena-discovery")
        defer { folder.remove() }
        for path in ["keep/a.png", "other/b.png", "c.png", "keep/deeper/d.png"] {
            try FileManager.default.createDirectory(
                atPath: PathText.directory(of: folder(path)), withIntermediateDirectories: true)
            try Data(path.utf8).write(to: URL(fileURLWithPath: folder(path)))
        }
        func found(include: [String], exclude: [String] = []) async throws -> [String] {
            let discovery = SourceDiscovery(
                folder: folder.path, source: SourceSpec(dir: folder.path, include: include, exclude: exclude))
            return try await discovery.run(statCache: [:], concurrency: 2).files.map(\.relativePath).sorted()
        }
        let kept = try await found(include: ["keep/*.png"])
        #expect(kept == ["keep/a.png", "keep/deeper/d.png"], "\(kept)")
        #expect(try await found(include: ["*.png"]) == ["c.png", "keep/a.png", "keep/deeper/d.png", "other/b.png"])
        #expect(try await found(include: ["*.png"], exclude: ["other/*"]) == ["c.png", "keep/a.png", "keep/deeper/d.png"])
        #expect(Glob("keep/*.png").spansFolders && !Glob("*.png").spansFolders)
    }
}
