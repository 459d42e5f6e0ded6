import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// A long run must not grow: 1,000 decode + detect + crop + encode cycles keep resident memory bounded (no leak
/// in the shim, the detector pool or the Swift wrappers). Measured in a process of its own (`elena-dev
/// memory-check`), since tests running alongside would move this process's figures.
@Suite struct MemoryTests {
    /// Run when the models and photos are there, or required (then their absence fails): otherwise skipped, and
    /// reported as skipped.
    @Test(.enabled(if: TestPhotos.facesRun, "needs ELENA_MODELS_DIR and ELENA_TEST_FACES (make test sets them)"))
    func aThousandCropsKeepResidentMemoryBounded() async throws {
        let models = try TestPhotos.models()
        let faces = try TestPhotos.faces()
        let tool = PathText.directory(of: CommandLineRunner.locateBinary()) + "/elena-dev"
        var runner = CommandLineRunner(workingDirectory: NSTemporaryDirectory())
        runner.executable = tool
        let result = try await runner.run([
            "memory-check", faces + "/astronaut_portrait.png", "--models", models, "--count", "1000", "--limit", "16",
        ])
        #expect(result.exitCode == 0, "\(result)")
        let figures = Dictionary(
            uniqueKeysWithValues: result.standardOutput.split(separator: "\n").compactMap { line -> (String, Double)? in
                let parts = line.split(separator: " ")
                guard parts.count == 2, let value = Double(parts[1]) else { return nil }
                return (String(parts[0]), value)
            })
        let warm = try #require(figures["rss_warm_mb"])
        let after = try #require(figures["rss_after_mb"])
        #expect(warm > 20, "the detector and codec are loaded")
        #expect(after - warm < 16, "grew from \(warm) to \(after) MiB")
        #expect(result.standardOutput.contains("cycles 1000 faces 1100"), "every cycle found the face")
    }
}
