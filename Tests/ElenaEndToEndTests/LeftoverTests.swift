import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A writer killed between writing a file and renaming it into place leaves `.tmp-<pid>-…` behind. The next run
/// deletes those of writers that no longer run, in every folder of the library it writes to, before it writes
/// anything; a dry run deletes nothing, and a live writer's file is never taken.
@Suite struct LeftoverTests {
    @Test func aRunDeletesTheHalfWrittenFilesOfKilledWritersAndADryRunDoesNot() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            _ = try await drop.run()
            let dead = try Subprocess.endedProcessID()
            let alive = ProcessInfo.processInfo.processIdentifier
            let abandoned = [
                "1_raw/\(drop.drop)/.tmp-\(dead)-1-a.png", "2_cropped/\(drop.drop)/.tmp-\(dead)-2-a.jpg",
                "3_review/\(drop.drop)/.tmp-\(dead)-3-a.jpg", "3_review/.tmp-\(dead)-4-a.jpg",
                "outbox/.tmp-\(dead)-5-a.jpg",
            ]
            let inFlight = "2_cropped/\(drop.drop)/.tmp-\(alive)-6-b.jpg"
            for path in abandoned + [inFlight] { _ = try drop.folder.write("half", to: "library/" + path) }
            func present() -> [String] {
                (abandoned + [inFlight]).filter { FileManager.default.fileExists(atPath: drop.library + "/" + $0) }
            }

            _ = try await drop.run(["--dry-run"])
            #expect(present() == abandoned + [inFlight], "a dry run deletes nothing")

            _ = try await drop.run()
            #expect(present() == [inFlight], "only the dead writers' files go")
        }
    }
}
