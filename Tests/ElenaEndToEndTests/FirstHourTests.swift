import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// What a new user meets in the first hour, through the built binary.
@Suite struct FirstHourTests {
    static let environment = ProcessInfo.processInfo.environment
    static let faces = environment["ELENA_REQUIRE_FACES"] == "1"
        || (environment["ELENA_TEST_FACES"] != nil && environment["ELENA_MODELS_DIR"] != nil)

    /// `make demo` runs `pipelines/demo.yaml` as committed on the bundled stylised images and the photographs the
    /// Makefile's DEMO_PHOTOS names (copied from the test photos): every face is cut away, the picture with no face
    /// falls back to a fixed fraction and is flagged, and the run stops at the review gate.
    @Test(.enabled(if: faces, "needs ELENA_TEST_FACES and ELENA_MODELS_DIR (make test sets them)"))
    func theDemoCutsTheFacesOffRealPhotographs() async throws {
        let root = CommandLineRunner.repositoryRoot()
        let photos = try #require(Self.environment["ELENA_TEST_FACES"], "run scripts/fetch-test-faces")
        let makefile = try String(contentsOfFile: root + "/Makefile", encoding: .utf8)
        let listed = try #require(makefile.range(of: "DEMO_PHOTOS := "), "the Makefile names the demo's photographs")
        // The value runs on over lines that end in a backslash.
        var demoPhotos: [String] = []
        for line in makefile[listed.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            demoPhotos += line.split(whereSeparator: \.isWhitespace).map(String.init).filter { $0 != "\\" }
            if !line.hasSuffix("\\") { break }
        }
        #expect(demoPhotos.contains("no_face_coffee.png") && demoPhotos.count >= 4, "\(demoPhotos)")

        let folder = try TemporaryDirectory("elena-demo")
        defer { folder.remove() }
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder("pipelines"), withIntermediateDirectories: true)
        try manager.createDirectory(atPath: folder("examples/demo/photos"), withIntermediateDirectories: true)
        try manager.copyItem(atPath: root + "/pipelines/demo.yaml", toPath: folder("pipelines/demo.yaml"))
        try manager.copyItem(atPath: root + "/examples/demo/images", toPath: folder("examples/demo/images"))
        for name in demoPhotos {
            try manager.copyItem(atPath: photos + "/" + name, toPath: folder("examples/demo/photos/" + name))
        }
        let runner = CommandLineRunner(workingDirectory: folder.path)
        let run = try await runner.run(["pipelines/demo.yaml"])
        #expect(run.exitCode == 3, "stops at the review gate: \(run)")
        #expect(run.standardOutput.contains("1 no face found (photos/no_face_coffee.png)"), "\(run.standardOutput)")
        #expect(manager.fileExists(atPath: folder("demo-library/3_review/demo")), "the library is beside the pipelines folder")

        for name in demoPhotos + ["ComfyUI_00001_.png"] {
            let status = try await runner.run(["status", "pipelines/demo.yaml", "--item", name, "--json"])
            let runs = try JSONValue.parse(status.standardOutput)["runs"]?.arrayValue ?? []
            let crop = try #require(runs.last { $0["stage"]?.stringValue == "crop" }?["output"], "\(name): \(status)")
            let applied = crop["decision"]?["applied"]?.stringValue
            if name.hasPrefix("no_face") {
                #expect(applied == "top_fraction" && crop["faces"]?.intValue == 0, "\(name): \(crop)")
            } else {
                #expect(applied == "no_face" && (crop["faces"]?.intValue ?? 0) >= 1, "\(name): the face is cut: \(crop)")
            }
        }
    }
}
