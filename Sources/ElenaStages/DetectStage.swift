package import ElenaCore
package import ElenaEngine
import Foundation

/// `detect`: finds faces when the item's strategy (or its fallback) needs them; otherwise records that no
/// detector was needed, at no cost.
package struct DetectStage: Stage {
    package let name = StageName.detect
    package let version = 1
    /// The detector (and the codec, for the image it looks at).
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    /// The detector's identity, or nil when none is installed.
    package var detectorIdentity: String? { services.detector?.identity }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        guard let item, item.crop.strategy.needsFaces else { return .object(["detector": .string("none")]) }
        guard item.crop.strategy == .auto else { return .object(["detector": .string(detectorIdentity ?? "missing")]) }
        // auto also measures each face against the persona: the identity model is part of the key.
        return .object([
            "detector": .string(detectorIdentity ?? "missing"), "identity": .string(services.identifier?.identity ?? "missing"),
        ])
    }

    package var resolvesBeforeCache: Bool { true }

    /// Strategies without faces need no detection: settled at once, with nothing to cache.
    package func resolve(_ context: NodeContext) -> StageOutcome? {
        guard let item = context.item, !item.crop.strategy.needsFaces else { return nil }
        return .done(Self.notNeeded)
    }

    /// The output of a detection the strategy does not need: one for every item, its value boxed once (a drop of
    /// 100,000 items boxed it 100,000 times).
    static let notNeeded: NodeOutput = {
        var output = NodeOutput(digest: notNeededDigest, artifactPath: nil, artifactStamp: nil, summaryText: notNeededSummary)
        output.value = Detection.notNeeded
        return output
    }()

    /// The same for every item, so encoded once (a drop of 100,000 items settles 100,000 of them).
    static let notNeededSummary = JSONText(JSONCoding.value(Detection.notNeeded))

    /// A recorded detection read back; one that no longer decodes is detected again.
    package func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? {
        try JSONCoding.decode(Detection.self, from: output.summary)
    }

    static let notNeededDigest = Digest.of(JSONCoding.value(Detection.notNeeded).serialized(canonical: true))

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item else { throw StageError("internal error: detect without an item (a bug)") }
        let detection: Detection
        if !item.crop.strategy.needsFaces {
            detection = .notNeeded
        } else {
            guard let detector = services.detector else {
                throw StageError(
                    "strategy \(item.crop.strategy.rawValue) needs the face models, which are not installed; "
                        + "run 'make models' (or use strategy keep/top_fraction)")
            }
            let image = try DecodedSource.image(context, services: services)
            var faces = try detector.detect(in: image)
            if item.crop.strategy == .auto {
                guard let identifier = services.identifier else {
                    throw StageError(
                        "strategy auto needs the identity model (face_recognition_sface.onnx), which is not installed; run 'make models'")
                }
                // Each face's embedding is recorded with the detection: a change of the persona or its thresholds
                // re-decides the crop without measuring the faces again.
                for index in faces.indices {
                    faces[index].embedding = try identifier.embed(faces[index], in: image).map { ($0 * 1e6).rounded() / 1e6 }
                }
            }
            for index in faces.indices { faces[index].alignment = nil }  // used to measure, not recorded
            detection = Detection(detector: detector.identity, imageSize: image.size, faces: faces)
        }
        let summary = JSONCoding.value(detection)
        return .done(NodeOutput(digest: Digest.of(summary.serialized(canonical: true)), summary: summary, value: detection))
    }
}
