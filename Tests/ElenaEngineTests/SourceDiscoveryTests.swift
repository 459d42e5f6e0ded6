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

    /// The walk takes each file's stamp from one look in its folder: the stamps are those `stat` gives, a file the
    /// stat cache knows with that stamp is not read, one whose stamp changed is hashed again, and a symbolic link
    /// inside the folder is taken as its target.
    @Test func stampsComeFromTheWalkAndTheStatCacheServesUnchangedFiles() async throws {
        let folder = try TemporaryDirectory("elena-discovery-stamps")
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder("sub"), withIntermediateDirectories: true)
        for path in ["a.png", "sub/b.png"] { try Data(path.utf8).write(to: URL(fileURLWithPath: folder(path))) }
        #expect(symlink("sub/b.png", folder("link.png")) == 0)
        let discovery = SourceDiscovery(folder: folder.path, source: SourceSpec(dir: folder.path, include: ["*.png"], exclude: []))

        let first = try await discovery.run(statCache: [:], concurrency: 2)
        #expect(first.files.map(\.relativePath) == ["a.png", "link.png", "sub/b.png"])
        #expect(first.hashed == 3)
        #expect(first.files.map(\.path) == [folder("a.png"), realPath(folder("sub/b.png")), folder("sub/b.png")])
        for entry in first.newStatEntries {
            #expect(entry.stamp == FileSystem.stamp(entry.path), "\(entry.path)")
            #expect(entry.digest == Digest.of(try Data(contentsOf: URL(fileURLWithPath: entry.path))))
        }

        // Known with the same stamp: not read. A wrong digest in the cache is what comes back, which shows it was
        // served from there.
        let planted = Digest.of("planted")
        var cache: [String: StatEntry] = [:]
        for entry in first.newStatEntries { cache[entry.path] = entry }
        cache[realPath(folder("a.png"))]?.digest = planted
        var asked = 0
        let second = try await discovery.run(statCache: { asked += 1; return cache }, concurrency: 2)
        #expect(asked == 1 && second.hashed == 0 && second.newStatEntries.isEmpty)
        #expect(second.files.first { $0.relativePath == "a.png" }?.digest == planted)

        // A changed file (another size) is hashed again.
        try Data("a longer a.png".utf8).write(to: URL(fileURLWithPath: folder("a.png")))
        let third = try await discovery.run(statCache: cache, concurrency: 2)
        #expect(third.hashed == 1)
        #expect(third.files.first { $0.relativePath == "a.png" }?.digest == Digest.of("a longer a.png"))
    }

    /// What the stat cache's reader throws stops the discovery with that error.
    @Test func aStatCacheThatCannotBeReadStopsTheDiscovery() async throws {
        let folder = try TemporaryDirectory("elena-discovery-cache")
        defer { folder.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder("a.png")))
        struct Unreadable: Error {}
        let discovery = SourceDiscovery(folder: folder.path, source: SourceSpec(dir: folder.path, include: ["*.png"], exclude: []))
        await #expect(throws: Unreadable.self) { try await discovery.run(statCache: { throw Unreadable() }, concurrency: 1) }
    }

    /// The stamps of many files read folder by folder are those `stat` gives; a missing file, a missing folder
    /// and a folder have none; a symbolic link is followed.
    @Test func aStampReaderGivesWhatStatGives() throws {
        let folder = try TemporaryDirectory("elena-stamp-reader")
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder("one/two"), withIntermediateDirectories: true)
        for path in ["a", "one/b", "one/two/c"] { try Data(path.utf8).write(to: URL(fileURLWithPath: folder(path))) }
        #expect(symlink(folder("one/b"), folder("one/two/link")) == 0)
        let reader = FileSystem.StampReader()
        for path in ["a", "one/b", "one/two/c", "one/two/link", "one/b", "a"] {
            let stamp = reader.stamp(folder(path))
            #expect(stamp != nil && stamp == FileSystem.stamp(folder(path)), "\(path)")
        }
        #expect(reader.stamp(folder("one/two/link")) == FileSystem.stamp(folder("one/b")))
        for path in ["missing", "one/missing", "nowhere/x", "one/two"] { #expect(reader.stamp(folder(path)) == nil, "\(path)") }
    }

    /// Files of many folders of the same name length, read in turn and again: each folder's file gets its own stamp
    /// (a folder forgotten by the reader's few recent ones is found again, not mistaken for another).
    @Test func aStampReaderKeepsFoldersOfTheSameLengthApart() throws {
        let folder = try TemporaryDirectory("elena-stamp-reader")
        defer { folder.remove() }
        let paths = (0..<7).map { "f\($0)/same.png" }
        for (position, path) in paths.enumerated() {
            try FileManager.default.createDirectory(atPath: folder("f\(position)"), withIntermediateDirectories: true)
            try Data(repeating: 1, count: position + 1).write(to: URL(fileURLWithPath: folder(path)))
        }
        let reader = FileSystem.StampReader()
        for path in paths + paths.reversed() + paths {
            let stamp = reader.stamp(folder(path))
            #expect(stamp != nil && stamp == FileSystem.stamp(folder(path)), "\(path)")
        }
        #expect(Set(paths.map { reader.stamp(folder($0))?.size }) == Set((1...7).map { Int64($0) }))
    }

    private func realPath(_ path: String) -> String { FileSystem.realPath(path) ?? path }
}
