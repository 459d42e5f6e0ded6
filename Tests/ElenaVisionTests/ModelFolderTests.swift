import ElenaTestKit
import ElenaVision
import Foundation
import Testing

/// What the face detector says about a models folder that is not right.
@Suite struct ModelFolderTests {
    /// A model missing says to install the models; one there but unreadable (a folder in its place) says it cannot
    /// be read (it was called missing).
    @Test func aMissingModelAndAnUnreadableOneAreToldApart() throws {
        let folder = try TemporaryDirectory("elena-models")
        defer { folder.remove() }
        let missing = #expect(throws: (any Error).self) { _ = try MediaPipeFaceDetector(modelsFolder: folder.path) }
        #expect("\(String(describing: missing))".contains("is missing; run 'make models'"), "\(String(describing: missing))")
        for file in MediaPipeFaceDetector.pinned.keys {
            try FileManager.default.createDirectory(atPath: folder(file), withIntermediateDirectories: true)
        }
        let unreadable = #expect(throws: (any Error).self) { _ = try MediaPipeFaceDetector(modelsFolder: folder.path) }
        #expect("\(String(describing: unreadable))".contains("cannot be read (no permission, or not a file)"), "\(String(describing: unreadable))")
    }
}
