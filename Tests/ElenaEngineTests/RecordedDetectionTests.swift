import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// The crop reads the detection as a typed value. A recorded detection that no longer decodes (a record from
/// another version, a hand edit) is detected again: it must never become "no faces" (then `no_face` would fall back
/// to a cut that was never checked against the face).
@Suite struct RecordedDetectionTests {
    /// One face in the top third of every image, chin at 30 % of the height; counts its calls.
    struct FixedFace: FaceDetector {
        let identity = "fixed-face/1"
        let calls = Locked(0)
        func detect(in image: any DecodedImage) throws -> [Face] {
            calls.withLock { $0 += 1 }
            let (width, height) = (Double(image.size.width), Double(image.size.height))
            let chin = height * 0.3
            return [
                Face(
                    box: Box(x: width * 0.3, y: height * 0.05, width: width * 0.4, height: chin - height * 0.05),
                    confidence: 0.99, jaw: [Point(x: width * 0.5, y: chin)])
            ]
        }
    }

    static func manifest(margin: Double) -> String {
        """
        version: 1
        drop: eng
        source:
          dir: src
        crop:
          strategy: no_face
          margin: \(margin)
        publish:
          to: folder
        """
    }

    @Test func anUnreadableRecordedDetectionIsDetectedAgainNotTakenForNoFaces() async throws {
        var harness = try SessionHarness(images: 2, manifest: Self.manifest(margin: 0.02))
        defer { harness.folder.remove() }
        let detector = FixedFace()
        let first = try await harness.run(detector: detector)
        #expect(first.count(.detect, "ran") == 2)
        #expect(detector.calls.withLock { $0 } == 2)

        // Every recorded detection is made unreadable; a new margin makes the crops run again (detect's key stays).
        let database = harness.layout.defaultDatabase
        let edit = try await Subprocess.run(
            "/usr/bin/sqlite3", [database, #"UPDATE stage_runs SET output = '{"faces":"?"}' WHERE stage = 'detect';"#])
        try #require(edit.status == 0, "sqlite3: \(edit.error)")
        harness.manifestText = Self.manifest(margin: 0.05)
        let second = try await harness.run(detector: detector)

        #expect(second.count(.detect, "ran") == 2, "the unreadable detections were a cache miss")
        #expect(detector.calls.withLock { $0 } == 4)
        #expect(second.count(.crop, "ran") == 2)
        for item in second.plan.items.indices {
            let summary = try #require(second.states[NodeID(.crop, item: item)]?.output?.summary.value)
            #expect(summary["faces"]?.intValue == 1, "the crop saw the face: \(summary)")
            #expect(summary["decision"]?["flags"]?.arrayValue == [], "no fallback: \(summary)")
        }
        // The fresh detections replaced the unreadable records.
        let detections = try await harness.withStore { store in
            try await store.cacheRecords(keys: Array(try await store.cacheIndex(for: second.plan).keys))
        }.values.filter { $0.stage == .detect }
        #expect(detections.count == 2)
        #expect(detections.allSatisfy { $0.output.value["faces"]?.arrayValue?.count == 1 })
    }
}
