package import ElenaCore
package import ElenaEngine
import Foundation

/// `crop`: decides the cut from the detections and the strategy (pure geometry), then writes the kept rectangle,
/// re-encoded with no metadata, into `2_cropped/<drop>/<stem>.<digest8>.<ext>`. Files are named by content, so a
/// recrop never overwrites an earlier version. The item's row learns of the crop from `ItemProjection`, after the
/// run, whether this ran or was a cache hit.
package struct CropStage: Stage {
    package let name = StageName.crop
    package let version = 1

    /// The codec (decoding goes through the item's workspace, shared with detect).
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        guard let item else { return .null }
        guard item.crop.strategy == .auto else { return JSONCoding.value(item.crop) }
        // auto decides by the persona: its centroid and thresholds are part of the key (only for auto, so other
        // strategies' keys stay as they were).
        return .object([
            "crop": JSONCoding.value(item.crop),
            "persona": services.persona.map { persona in
                .object([
                    "centroid": .string(persona.digest), "keep_above": .double(persona.keepAbove),
                    "lips_above": .double(persona.lipsAbove),
                ])
            } ?? .null,
        ])
    }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        guard let item, let line = item.lineOverride else { return .null }
        return .object(["line": .double(line)])
    }

    /// For `auto`: each face's score against the persona (the cosine of its embedding and her centroid).
    func identity(_ item: PlannedItem, _ detection: Detection) throws -> IdentityRecord? {
        guard item.crop.strategy == .auto else { return nil }
        guard let persona = services.persona else {
            throw StageError("strategy auto needs a persona: add 'persona: {references: [...]}' to the manifest")
        }
        let scores = try detection.faces.map { face -> Double in
            guard let embedding = face.embedding else {
                throw StageError("internal error: a face without its identity measure under auto (a bug)")
            }
            return persona.score(embedding)
        }
        return IdentityRecord(
            scores: scores.map { ($0 * 10_000).rounded() / 10_000 }, keepAbove: persona.keepAbove,
            lipsAbove: persona.lipsAbove, model: persona.model, persona: persona.digest)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item else { throw StageError("internal error: crop without an item (a bug)") }
        let environment = context.environment
        let image = try DecodedSource.image(context, services: services)
        let detection = try context.input(.detect, as: Detection.self)
        let decision: CropDecision
        do {
            decision = try CropGeometry.decide(
                size: image.size, faces: detection.faces, spec: item.crop, lineOverride: item.lineOverride,
                identity: try identity(item, detection))
        } catch let error as CropGeometryError {
            throw StageError(error.description)
        }
        var data: Data
        do {
            data = try image.encode(decision.rect, format: item.crop.format, quality: item.crop.quality)
        } catch let error as ImageCodecError {
            throw StageError("cannot encode the crop: \(error.message)")
        }
        if item.crop.markAI { data = AIMarking.marked(data) }
        // The decoded picture stays in the workspace for the fingerprint, which frees it.
        let digest = Digest.of(data)
        let relative = environment.layout.cropped(
            drop: context.plan.drop, stem: item.stem, digest: digest, format: item.crop.format)
        let absolute = environment.layout.absolute(relative)
        if FileSystem.stamp(absolute)?.size != Int64(data.count) || (try? FileSystem.digest(absolute)) != digest {
            try FileSystem.writeAtomically(data, to: absolute)
        }
        guard let stamp = FileSystem.stamp(absolute) else { throw StageError("the crop \(relative) vanished") }
        let summary = JSONValue.object([
            "decision": JSONCoding.value(decision),
            "detector": .string(detection.detector),
            "faces": .int(detection.faces.count),
            "source_size": .string(image.size.description),
            "bytes": .int(data.count),
        ])
        return .done(NodeOutput(digest: digest, artifactPath: relative, artifactStamp: stamp, summary: summary))
    }
}
