import ElenaCLI
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The commands in-process: `ElenaRunCommand.run` returns the exit code the binary would exit with, and the test
/// process goes on (only the executable's entry point exits).
@Suite(.serialized) struct ExitCodeTests {
    static func drop(_ manifest: String) throws -> TemporaryDirectory {
        let folder = try TemporaryDirectory("elena-cli")
        try SourceFixtures.writeImages(into: folder, count: 2)
        try manifest.write(toFile: folder("drop.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    static let manifest = """
        version: 1
        drop: cli
        library: library
        source:
          dir: src
        crop:
          strategy: top_fraction
        publish:
          to: folder
        """

    @Test func versionIsZeroAndTheProcessGoesOn() async {
        #expect(await ElenaRunCommand.run(["--version"]) == 0)
        #expect(await ElenaRunCommand.run(["--help"]) == 0)
    }

    @Test func unknownOptionsAndBadManifestsAreTwo() async throws {
        #expect(await ElenaRunCommand.run(["--no-such-option"]) == 2)
        let folder = try Self.drop(Self.manifest.replacingOccurrences(of: "strategy: top_fraction", with: "stratgy: top_fraction"))
        defer { folder.remove() }
        #expect(await ElenaRunCommand.run(["plan", folder("drop.yaml")]) == 2)
        #expect(!FileManager.default.fileExists(atPath: folder("library")), "a bad manifest creates no library")
    }

    @Test func aDryRunIsThreeWhenItemsWouldWaitAndChangesNothing() async throws {
        let folder = try Self.drop(Self.manifest)
        defer { folder.remove() }
        #expect(await ElenaRunCommand.run([folder("drop.yaml"), "--dry-run", "--quiet"]) == 3)
        #expect(!FileManager.default.fileExists(atPath: folder("library/elena.db")), "a dry run writes no ledger")
        // The real run, then a rerun: both stop at the review gate (3), and the crops are there.
        #expect(await ElenaRunCommand.run([folder("drop.yaml"), "--quiet"]) == 3)
        #expect(folder.files().filter { $0.hasPrefix("library/3_review/cli/") }.count == 2)
        #expect(await ElenaRunCommand.run(["status", folder("drop.yaml")]) == 3)
    }
}
