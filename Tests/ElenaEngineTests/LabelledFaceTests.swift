import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import ElenaVision
import Foundation
import Testing

/// The face crop engine on real, hand-labelled photographs (scikit-image's public-domain and CC0 samples and
/// variants made from them: see Tests/Fixtures/faces). `make test` installs the models (scripts/install-models)
/// and the photos (scripts/fetch-test-faces) and sets ELENA_MODELS_DIR and ELENA_TEST_FACES; with
/// ELENA_REQUIRE_FACES=1 their absence is a failure, not a skip.
@Suite(.serialized) struct LabelledFaceTests {
    struct Label: Sendable, CustomStringConvertible {
        var file: String
        var expect: String
        var faces: [JSONValue]
        var description: String { file }

        func point(_ face: JSONValue, _ key: String) -> Point? {
            guard let pair = face[key]?.arrayValue, pair.count == 2, let x = pair[0].doubleValue, let y = pair[1].doubleValue
            else { return nil }
            return Point(x: x, y: y)
        }

        /// Every annotated point of a face that must not survive a `no_face` crop.
        func featurePoints(_ face: JSONValue) -> [Point] {
            var points = ["chin", "nose_tip", "nose_bottom", "upper_lip_top", "mouth", "lower_lip_bottom"].compactMap { point(face, $0) }
            for eye in face["eyes"]?.arrayValue ?? [] {
                if let pair = eye.arrayValue, let x = pair.first?.doubleValue, let y = pair.last?.doubleValue {
                    points.append(Point(x: x, y: y))
                }
            }
            return points
        }
    }

    static let environment = ProcessInfo.processInfo.environment
    static let required = environment["ELENA_REQUIRE_FACES"] == "1"
    static var facesFolder: String? { environment["ELENA_TEST_FACES"] }

    static let labels: [Label] = {
        guard let folder = facesFolder, let data = FileManager.default.contents(atPath: folder + "/labels.json"),
            let root = try? JSONValue.parse(String(decoding: data, as: UTF8.self)), let entries = root.arrayValue
        else { return required ? [Label(file: "labels.json (missing: run scripts/fetch-test-faces)", expect: "missing", faces: [])] : [] }
        return entries.compactMap { entry in
            guard let file = entry["file"]?.stringValue, let expect = entry["expect"]?.stringValue else { return nil }
            return Label(file: file, expect: expect, faces: entry["faces"]?.arrayValue ?? [])
        }
    }()

    static let detector: Result<MediaPipeFaceDetector, any Error> = Result {
        guard let folder = environment["ELENA_MODELS_DIR"] else {
            throw StageError("ELENA_MODELS_DIR is not set: run scripts/install-models and point it at the folder")
        }
        MediaPipeFaceDetector.setOpenCVThreads(1)
        return try MediaPipeFaceDetector(modelsFolder: folder)
    }

    func detect(_ label: Label) throws -> (PixelSize, [Face]) {
        #expect(label.expect != "missing", "the labelled faces are missing: run scripts/fetch-test-faces")
        let folder = try #require(Self.facesFolder)
        let data = try #require(FileManager.default.contents(atPath: folder + "/" + label.file))
        let image = try OpenCVCodec().decode(data, header: try ImageHeader.read(data), limits: .standard)
        let detector = try Self.detector.get()
        return (image.size, try detector.detect(in: image))
    }

    @Test(arguments: labels)
    func noFaceCutsBelowEveryLabelledFeature(label: Label) throws {
        let (size, faces) = try detect(label)
        let decision = try CropGeometry.decide(size: size, faces: faces, spec: CropSpec(strategy: .noFace, margin: 0.02))
        switch label.expect {
        case "faces":
            #expect(faces.count == label.faces.count, "\(label.file): found \(faces.count) faces, labelled \(label.faces.count)")
            #expect(!decision.flags.contains(.noFaceFound))
            for face in label.faces {
                let lowest = face["lowest_y"]?.doubleValue ?? 0
                #expect(Double(decision.rect.y) > lowest, "\(label.file): cut at \(decision.rect.y), face reaches \(lowest)")
                for point in label.featurePoints(face) {
                    #expect(Double(decision.rect.y) > point.y, "\(label.file): a feature at y=\(point.y) would survive")
                }
            }
        case "no_face":
            #expect(faces.isEmpty, "\(label.file): \(faces.count) false faces")
            #expect(decision.flags.contains(.noFaceFound))
            #expect(decision.applied == .topFraction)
            #expect(decision.line == Int((0.30 * Double(size.height)).rounded(.up)))
        default:
            // Hard cases (a face behind a camera, a face cut below the eyes): whatever is found is cut away.
            for face in faces { #expect(Double(decision.rect.y) > face.bottom) }
        }
    }

    /// The persona of `auto` for these photos: someone who is in none of them (enrolled from two photos of one
    /// person, scripts/fetch-identity-faces).
    static let stranger: Result<(SFaceIdentifier, PersonaProfile), any Error> = Result {
        let (photos, models) = (try TestPhotos.identity(), try TestPhotos.models())
        let identifier = try SFaceIdentifier(modelsFolder: models)
        let cache = try TemporaryDirectory("elena-persona")
        defer { cache.remove() }
        let profile = try PersonaEnrolment(
            codec: OpenCVCodec(), detector: try detector.get(), identifier: identifier, cacheFolder: cache.path
        ).enrol(PersonaSpec(references: [photos + "/obama.jpg", photos + "/obama2.jpg"]), relativeTo: "/", home: "/root")
        return (identifier, profile)
    }

    /// Under `auto`, faces that are not the persona's are cut exactly as `no_face` cuts them.
    @Test(arguments: labels.filter { $0.expect == "faces" })
    func autoCutsFacesThatAreNotThePersonasLikeNoFace(label: Label) throws {
        let (size, faces) = try detect(label)
        let (identifier, persona) = try Self.stranger.get()
        let folder = try #require(Self.facesFolder)
        let data = try #require(FileManager.default.contents(atPath: folder + "/" + label.file))
        let image = try OpenCVCodec().decode(data, header: try ImageHeader.read(data), limits: .standard)
        let scores = try faces.map { persona.score(try identifier.embed($0, in: image)) }
        #expect(scores.allSatisfy { $0 < persona.lipsAbove }, "\(label.file): nobody here is the persona: \(scores)")
        let identity = IdentityRecord(
            scores: scores, keepAbove: persona.keepAbove, lipsAbove: persona.lipsAbove, model: persona.model, persona: persona.digest)
        let auto = try CropGeometry.decide(size: size, faces: faces, spec: CropSpec(strategy: .auto, margin: 0.02), identity: identity)
        let noFace = try CropGeometry.decide(size: size, faces: faces, spec: CropSpec(strategy: .noFace, margin: 0.02))
        #expect(auto.applied == .noFace && auto.line == noFace.line && auto.rect == noFace.rect, "\(label.file)")
    }

    @Test(arguments: labels.filter { $0.expect == "faces" && $0.faces.count == 1 })
    func lipsOnlyCutsBetweenNoseAndLowerLip(label: Label) throws {
        let (size, faces) = try detect(label)
        let face = try #require(label.faces.first)
        let noseBottom = try #require(label.point(face, "nose_bottom"))
        let noseTip = try #require(label.point(face, "nose_tip"))
        let lowerLip = try #require(label.point(face, "lower_lip_bottom"))
        let eyes = label.featurePoints(face).filter { $0.y < noseTip.y }
        for lipsLine in LipsLine.allCases {
            let spec = CropSpec(strategy: .lipsOnly, lipsLine: lipsLine)
            let decision = try CropGeometry.decide(size: size, faces: faces, spec: spec)
            let line = Double(decision.line)
            #expect(line > noseBottom.y, "\(label.file) \(lipsLine): cut at \(line) keeps the nose (bottom at \(noseBottom.y))")
            #expect(line < lowerLip.y, "\(label.file) \(lipsLine): cut at \(line) removes the lower lip (\(lowerLip.y))")
            for eye in eyes { #expect(line > eye.y) }
        }
    }

    @Test func aDropOfLabelledPhotosPublishesNoFace() async throws {
        guard let folder = Self.facesFolder else {
            #expect(!Self.required, "ELENA_TEST_FACES is not set")
            return
        }
        let detector = try Self.detector.get()
        let work = try TemporaryDirectory("elena-faces")
        defer { work.remove() }
        let manifest = """
            version: 1
            drop: faces
            source:
              dir: \(folder)
              include: ["*.png", "*.jpg"]
              recursive: false
            crop:
              strategy: no_face
            publish:
              to: folder
            """
        let (decoded, _) = try ManifestDecoder.decode(manifest, file: "faces.yaml")
        let layout = LibraryLayout(root: work("library"))
        try FileSystem.makeDirectory(layout.root)
        let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: layout.defaultDatabase), readOnly: false)
        let session = DropSession(
            manifest: decoded, manifestFolder: work.path, home: "/root",
            environment: RunEnvironment(layout: layout, cache: store, dryRun: false, concurrency: 2, reporter: SilentReporter()),
            services: DropServices(store: store, codec: OpenCVCodec(), detector: detector, outbox: layout.defaultOutbox(drop: "faces")))
        let report = try await session.run()
        #expect(report.failureCount == 0, "\(report.failures)")
        let byName = Dictionary(uniqueKeysWithValues: Self.labels.map { ($0.file, $0) })
        var checked = 0
        for item in try await store.items(drop: "faces") {
            guard let label = byName[item.originalName] else { continue }
            let runs = try await store.runs(itemID: item.id)
            let decision = try #require(runs.last { $0.stage == .crop }?.output.value["decision"])
            let top = try #require(decision["rect"]?["y"]?.doubleValue)
            let flags = decision["flags"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if label.expect == "faces" {
                for face in label.faces {
                    for point in label.featurePoints(face) { #expect(top > point.y, "\(label.file): y=\(point.y) kept") }
                }
                #expect(!flags.contains("no_face_found"), "\(label.file)")
            } else if label.expect == "no_face" {
                #expect(flags.contains("no_face_found"), "\(label.file) must be flagged for review")
            }
            checked += 1
        }
        #expect(checked == Self.labels.count)
        await store.close()
    }
}
