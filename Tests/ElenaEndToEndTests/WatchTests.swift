import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// `elena-run watch` as a background process: files that arrive are run through the drop, a file written slowly
/// in chunks is read only once complete (even when it stays unchanged between chunks), review decisions are
/// picked up, and Ctrl-C stops it cleanly.
@Suite struct WatchTests {
    /// Polls until `condition` holds or two minutes pass; the caller asserts.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(120)
        while !condition() && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
    }

    /// Files that were already there, untouched for minutes, are run by the first run: its line does not call them
    /// "still being written" (it did, for every file, until they had been watched for --settle seconds).
    @Test func filesUntouchedForMinutesAreRunAtOnce() async throws {
        try await withDrop(.sqlite, images: 3) { drop in
            let old = Date().addingTimeInterval(-600)
            for name in try FileManager.default.contentsOfDirectory(atPath: drop.folder("src")).map({ "src/" + $0 }) + ["drop.yaml"] {
                try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: drop.folder(name))
            }
            let watch = try drop.runner.start(
                ["watch", "drop.yaml", "--settle", "30", "--interval", "0.1"], logPath: drop.folder("watch.log"))
            try await Self.eventually { watch.log.contains("] run: ") }
            let first = watch.log.components(separatedBy: "\n").first { $0.contains("] run: ") } ?? ""
            #expect(first.contains("run: 3 items") && !first.contains("still being written"), "\(watch.log)")
            watch.interrupt()
            #expect(await watch.wait() == 0, "\(watch.log)")
        }
    }

    @Test func watchPicksUpFilesOnlyOnceCompleteAndDecisionsAsTheyAreMade() async throws {
        try await withDrop(.sqlite, images: 1) { drop in
            let review = { drop.files("3_review/\(drop.drop)") }
            let watch = try drop.runner.start(
                ["watch", "drop.yaml", "--settle", "0.3", "--interval", "0.1"], logPath: drop.folder("watch.log"))
            try await Self.eventually { review().count == 1 }
            #expect(review().count == 1, "the file already there was run: \(watch.log)")

            // A new image, written in three chunks with pauses far longer than --settle, the file kept open.
            let bytes = try SyntheticImage(width: 320, height: 480, seed: 77).encoded(.png)
            let path = drop.folder("src/slow.png")
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            let third = bytes.count / 3
            for chunk in [bytes[..<third], bytes[third..<(2 * third)]] {
                try handle.write(contentsOf: chunk)
                try handle.synchronize()
                try await Task.sleep(for: .seconds(0.8))  // more than twice --settle
                #expect(review().count == 1, "a file still open for writing was read: \(watch.log)")
            }
            try handle.write(contentsOf: bytes[(2 * third)...])
            try handle.close()
            try await Self.eventually { review().count == 2 }
            #expect(review().count == 2, "the finished file was run: \(watch.log)")
            #expect(!watch.log.contains("error"), "no partial file was ever read: \(watch.log)")

            // A decision made while it watches is published without another command.
            try drop.decide(["ComfyUI_00001_"], to: "4_approved")
            try await Self.eventually { drop.files("outbox/\(drop.drop)").contains { $0.hasSuffix(".jpg") } }
            #expect(drop.files("outbox/\(drop.drop)").contains { $0.hasSuffix(".jpg") }, "\(watch.log)")

            // A manifest broken while it watches: a located error, and watching goes on; fixed, it runs again.
            let runs = { watch.log.components(separatedBy: "] run: ").count - 1 }
            let before = runs()
            try drop.writeManifest(extra: "colour: red")
            try await Self.eventually { watch.log.contains("run failed; watching on") }
            #expect(watch.log.contains("drop.yaml:") && watch.log.contains("unknown key 'colour'"), "\(watch.log)")
            #expect(watch.isRunning)
            try drop.writeManifest()
            try await Self.eventually { runs() > before }
            #expect(runs() > before, "the fixed manifest runs: \(watch.log)")

            watch.interrupt()
            #expect(await watch.wait() == 0, "\(watch.log)")
            #expect(watch.log.contains("watch stopped after"), "\(watch.log)")
        }
    }
}
