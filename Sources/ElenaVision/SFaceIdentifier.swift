internal import CVisionLoader
package import ElenaCore
import Foundation

/// `FaceIdentifier` over OpenCV Zoo's SFace (`face_recognition_sface.onnx`, converted and installed by
/// `scripts/install-models`, pinned by SHA-256), run by the shim on OpenCV's dnn module (measured faster than
/// XNNPACK for this network): a face aligned on its five points becomes a 128-float embedding, L2-normalised.
package final class SFaceIdentifier: FaceIdentifier, @unchecked Sendable {
    // Unchecked for the handle: the shim gives concurrent calls on one identifier a network each. Made when a
    // face is first measured: a rerun whose decisions are all cached (the persona's references too) never loads the
    // network nor OpenCV.
    private let handle = Locked<OpaquePointer?>(nil)
    private let path: String

    /// The model file and its pinned digest (the same as models/SHA256SUMS).
    package static let file = "face_recognition_sface.onnx"
    package static let pinned = "a20a3350dc0450d9bf85cad1b2950e48cd75b38a692c433876a7b9ebd2e23bc7"

    /// The model, the engine and the alignment: recorded with every decision and part of the cache keys, so a
    /// change of engine scores the faces again.
    package let identity: String

    /// Loads the model from `folder`, checking its digest.
    /// - Throws: `MediaPipeFaceDetector.ModelError` naming the missing or altered file and what to run.
    package init(modelsFolder folder: String) throws {
        let path = folder + "/" + Self.file
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MediaPipeFaceDetector.ModelError(
                description: "the identity model \(path) is missing (strategy auto needs it); run 'make models' (scripts/install-models)")
        }
        let actual = Digest.of(data).hex
        guard actual == Self.pinned else {
            throw MediaPipeFaceDetector.ModelError(
                description: "the identity model \(path) has SHA-256 \(actual), expected \(Self.pinned); reinstall with 'make models'")
        }
        self.path = path
        // The network runs on OpenCV's dnn module (what cvision_identifier_create chooses, and what is asked for).
        identity = "sface-2021dec onnx(a20a3350) opencv-dnn-4.6 facemesh-5-points"
    }

    deinit { handle.withLock { $0.map(cvision_identifier_destroy) } }

    /// The network, loaded (and run once) on first need.
    private func network() throws -> OpaquePointer {
        try handle.withLock { handle in
            if let handle { return handle }
            var status = cvision_status()
            var created: OpaquePointer?
            guard cvision_identifier_create_engine(path, Int32(CVISION_ENGINE_OPENCV), &created, &status) == CVISION_OK,
                let created
            else {
                throw OpenCVCodec.error(status)
            }
            handle = created
            return created
        }
    }

    /// Loads the network now, rather than when a face is first measured: what `doctor` checks.
    package func load() throws { _ = try network() }

    package func embed(_ face: Face, in image: any DecodedImage) throws -> [Float] {
        guard let opencv = image as? OpenCVImage else {
            throw ImageCodecError(.unsupported, "the identity model needs an image decoded by OpenCVCodec")
        }
        guard let points = face.alignment, points.count == 5 else {
            throw ImageCodecError(.unsupported, "the face has no alignment points (the detector gives them)")
        }
        let flat = points.flatMap { [Float($0.x), Float($0.y)] }
        var embedding = [Float](repeating: 0, count: Int(CVISION_EMBEDDING))
        let handle = try network()
        var status = cvision_status()
        let code = opencv.withHandle { imageHandle in
            flat.withUnsafeBufferPointer { pointsBuffer in
                embedding.withUnsafeMutableBufferPointer { out in
                    cvision_identifier_embed(handle, imageHandle, pointsBuffer.baseAddress, out.baseAddress, &status)
                }
            }
        }
        guard code == CVISION_OK else { throw OpenCVCodec.error(status) }
        return embedding
    }
}
