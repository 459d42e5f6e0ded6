import ElenaEngine
import ElenaTestSupport
import Foundation
import Testing

/// A writer killed between writing and renaming leaves `.tmp-<pid>-…`; the next run deletes it, but never the
/// temporary file of a writer that is still running.
@Suite struct AbandonedTemporaryTests {
    @Test func onlyTheLeftoversOfDeadWritersAreDeleted() throws {
        let folder = try TemporaryDirectory("elena-tmp")
        defer { folder.remove() }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier
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
}
