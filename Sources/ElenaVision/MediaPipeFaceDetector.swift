internal import CVisionLoader
package import ElenaCore
import Foundation

/// `FaceDetector` over MediaPipe's BlazeFace (short range) and Face Mesh (468 points), converted to ONNX by
/// `scripts/install-models` and run by XNNPACK inside the CVision shim (OpenCV's dnn module is the reference the
/// native test compares it with). Fully offline: the models are read from a local folder, checked against pinned
/// SHA-256 digests.
package final class MediaPipeFaceDetector: FaceDetector, @unchecked Sendable {
    // Unchecked for the handles: the shim's detector handles are not thread-safe, so each call takes one out of
    // `idle` and puts it back after; a handle is never used by two threads at once.
    private let idle = Locked<[OpaquePointer]>([])
    private let detectorPath: String
    private let landmarkPath: String

    /// The model files and their pinned digests (the same as models/SHA256SUMS).
    package static let detectorFile = "face_detection_short_range.onnx"
    package static let landmarkFile = "face_landmark.onnx"
    package static let pinned: [String: String] = [
        detectorFile: "2d83bf713a7bf67b1d8d65b3d4eb297a4f1029bce51cf0d9f7723046648f10a7",
        landmarkFile: "7abd9342cf40074b7662e376d1bf006cbef75021652ad30af0385ce642cb7fa2",
    ]

    /// Detector, models, engine and pipeline version: part of the detect stage's cache key.
    package let identity: String

    /// Why the models cannot be used.
    package struct ModelError: Error, Sendable, CustomStringConvertible {
        package var description: String
    }

    /// Loads the models from `folder`, checking their digests.
    /// - Throws: `ModelError` naming the missing or altered file and what to run.
    package init(modelsFolder folder: String) throws {
        for (file, expected) in Self.pinned {
            let path = folder + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else {
                // There but unreadable (no permission, a folder in its place) is not "missing".
                throw ModelError(
                    description: FileManager.default.fileExists(atPath: path)
                        ? "face model \(path) cannot be read (no permission, or not a file); reinstall with 'make models'"
                        : "face model \(path) is missing; run 'make models' (scripts/install-models)")
            }
            let actual = Digest.of(data).hex
            guard actual == expected else {
                throw ModelError(
                    description: "face model \(path) has SHA-256 \(actual), expected \(expected); reinstall with 'make models'")
            }
        }
        detectorPath = folder + "/" + Self.detectorFile
        landmarkPath = folder + "/" + Self.landmarkFile
        // XNNPACK unless it does not run on this CPU (the shim then falls back to OpenCV's dnn module). Known
        // without loading the networks: they are loaded (with OpenCV, 70 MB and 0.15 s) when a face is first looked
        // for, so a rerun whose detections are all cached never loads them.
        engine = cvision_xnnpack_available() != 0 ? Int32(CVISION_ENGINE_XNNPACK) : Int32(CVISION_ENGINE_OPENCV)
        let name = engine == Int32(CVISION_ENGINE_OPENCV) ? "opencv-dnn" : "xnnpack"
        identity = "mediapipe-0.10.21 blazeface-short+facemesh-468 onnx(2d83bf71,7abd9342) \(name) pipeline-2"
    }

    /// The engine the identity names, which every handle must run on.
    private let engine: Int32

    /// Loads the networks now (and runs them once), rather than when a face is first looked for: what `doctor`
    /// checks.
    package func load() throws {
        giveBack(try borrow())
    }

    deinit {
        for handle in idle.withLock({ $0 }) { cvision_detector_destroy(handle) }
    }

    private func makeHandle() throws -> OpaquePointer {
        var status = cvision_status()
        var handle: OpaquePointer?
        let code = cvision_detector_create_engine(detectorPath, landmarkPath, engine, &handle, &status)
        guard code == CVISION_OK, let handle else { throw OpenCVCodec.error(status) }
        return handle
    }

    private func borrow() throws -> OpaquePointer {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return try makeHandle()
    }

    private func giveBack(_ handle: OpaquePointer) {
        idle.withLock { $0.append(handle) }
    }

    package func detect(in image: any DecodedImage) throws -> [Face] {
        guard let opencv = image as? OpenCVImage else {
            throw ImageCodecError(.unsupported, "the face detector needs an image decoded by OpenCVCodec")
        }
        let handle = try borrow()
        defer { giveBack(handle) }
        var options = cvision_detect_options()
        cvision_detect_options_default(&options)
        let capacity = 8
        var faces = [cvision_face](repeating: cvision_face(), count: capacity)
        var count: Int32 = 0
        var status = cvision_status()
        let code = opencv.withHandle { imageHandle in
            faces.withUnsafeMutableBufferPointer { buffer in
                cvision_detector_detect(handle, imageHandle, &options, buffer.baseAddress, Int32(capacity), &count, &status)
            }
        }
        guard code == CVISION_OK else { throw OpenCVCodec.error(status) }
        return faces.prefix(Int(count)).map(Self.face)
    }

    /// Face Mesh indices for the parts the crop rules use (mediapipe's face_mesh_connections).
    enum Mesh {
        /// The lower face outline, ear to ear through the chin (152).
        static let jaw = [58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288]
        /// Tip, bottom (subnasale 2 / 94) and the nostrils' lower edges.
        static let nose = [1, 2, 4, 94, 19, 97, 98, 99, 326, 327, 328, 64, 294, 240, 460]
        /// The upper lip's outer (top) contour, without the mouth corners.
        static let upperLip = [0, 37, 39, 40, 185, 267, 269, 270, 409]
        /// The inner contour between the lips.
        static let mouth = [13, 14, 82, 87, 312, 317]
        /// The lower lip's outer (bottom) contour.
        static let lowerLip = [17, 84, 314, 181, 405, 91, 321]
        /// Eye corners, averaged into eye centres.
        static let rightEye = [33, 133]
        static let leftEye = [362, 263]
        /// The nose tip and the mouth corners (image left, image right): with the eye centres, the five points a
        /// face is aligned on for identity (`identity-model.md`).
        static let noseTip = 1
        static let mouthCorners = [61, 291]
    }

    static func face(_ raw: cvision_face) -> Face {
        var points = [Point](repeating: Point(x: 0, y: 0), count: Int(CVISION_LANDMARKS))
        withUnsafeBytes(of: raw.landmarks) { buffer in
            let floats = buffer.bindMemory(to: Float.self)
            for index in 0..<points.count {
                points[index] = Point(x: Double(floats[2 * index]), y: Double(floats[2 * index + 1]))
            }
        }
        let box = Box(x: Double(raw.x), y: Double(raw.y), width: Double(raw.width), height: Double(raw.height))
        guard raw.has_landmarks != 0 else {
            return Face(box: box, confidence: Double(raw.score), roll: Double(raw.roll_degrees))
        }
        func pick(_ indices: [Int]) -> [Point] { indices.map { points[$0] } }
        func centre(_ indices: [Int]) -> Point {
            let picked = pick(indices)
            return Point(
                x: picked.map(\.x).reduce(0, +) / Double(picked.count), y: picked.map(\.y).reduce(0, +) / Double(picked.count))
        }
        return Face(
            box: box, confidence: Double(min(raw.score, raw.presence)), jaw: pick(Mesh.jaw), nose: pick(Mesh.nose),
            upperLip: pick(Mesh.upperLip), mouth: pick(Mesh.mouth), lowerLip: pick(Mesh.lowerLip),
            eyes: [centre(Mesh.rightEye), centre(Mesh.leftEye)], roll: Double(raw.roll_degrees),
            alignment: [centre(Mesh.rightEye), centre(Mesh.leftEye), points[Mesh.noseTip]] + pick(Mesh.mouthCorners))
    }

    /// Where the models are looked for: `$ELENA_MODELS_DIR`, `~/.local/share/elena-run/models`, the prefix the
    /// running binary is installed under (`<prefix>/bin/elena-run` → `<prefix>/share/elena-run/models`, where
    /// `make install PREFIX=…` puts them), then the `models` folder next to its build directory (`.build/models`,
    /// where `make models` installs them). Symbolic links to the binary are followed.
    package static func candidateFolders(environment: [String: String], executable: String) -> [String] {
        var folders: [String] = []
        if let explicit = environment["ELENA_MODELS_DIR"], !explicit.isEmpty { folders.append(explicit) }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        folders.append(data + "/elena-run/models")
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        let installed = binary.deletingLastPathComponent().appendingPathComponent("share/elena-run/models").path
        if !folders.contains(installed) { folders.append(installed) }
        folders.append(binary.deletingLastPathComponent().appendingPathComponent("models").path)
        folders.append(binary.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models").path)
        return folders
    }

    /// The first candidate folder holding both model files, if any.
    package static func locate(environment: [String: String], executable: String) -> String? {
        candidateFolders(environment: environment, executable: executable).first { folder in
            pinned.keys.allSatisfy { FileManager.default.fileExists(atPath: folder + "/" + $0) }
        }
    }

    /// Sets OpenCV's own thread count (the tool runs one image per core, so 1).
    package static func setOpenCVThreads(_ count: Int) { cvision_set_threads(Int32(count)) }
}
