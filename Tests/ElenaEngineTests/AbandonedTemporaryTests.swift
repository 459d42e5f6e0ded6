import ElenaEngine
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A writer killed between writing and renaming leaves `.tmp-<pid>-…`; the next run deletes it, but never the
/// temporary file of a writer that is still running.
@Suite struct AbandonedTemporaryTests {
    @Test func onlyTheLeftoversOfDeadWritersAreDeleted() throws {
        let folder = try TemporaryDirectory("elena-tmp")
        defer { folder.remove() }
        let dead = try Subprocess.endedProcessID()
        let alive = ProcessInfo.processInfo.processIdentifier
        try folder.write("half", to: ".tmp-\(dead)-42-a.png")
        try folder.write("in flight", to: ".tmp-\(alive)-43-b.png")
        try folder.write("kept", to: "c.png")
        try folder.write("not ours", to: ".tmp-notapid-c.png")
        #expect(FileSystem.removeAbandonedTemporaries(in: folder.path) == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(left == [".tmp-\(alive)-43-b.png", ".tmp-notapid-c.png", "c.png"])
        // A write in progress uses this process's pid.
        try FileSystem.writeAtomically(Data("x".utf8), to: folder("d.png"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains("d.png"))
    }

    /// Linking a file over a link to the same file again (an ingest redone after the ledger lost its record) left
    /// the temporary link behind every time: rename() of two links to one file does nothing and succeeds.
    @Test func linkingAFileOverALinkToItselfLeavesNoTemporaryFile() throws {
        let folder = try TemporaryDirectory("elena-tmp")
        defer { folder.remove() }
        try folder.write("bytes", to: "src/a.png")
        #expect(try FileSystem.linkOrCopy(folder("src/a.png"), to: folder("raw/a.png")))
        #expect(try FileSystem.linkOrCopy(folder("src/a.png"), to: folder("raw/a.png")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder("raw")) == ["a.png"])
        #expect(try String(contentsOfFile: folder("raw/a.png"), encoding: .utf8) == "bytes")
    }
}
