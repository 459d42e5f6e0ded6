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
        return JSONCoding.value(item.crop)
    }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        guard let item, let line = item.lineOverride else { return .null }
        return .object(["line": .double(line)])
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item else { throw StageError("internal error: crop without an item (a bug)") }
        let environment = context.environment
        let image = try DecodedSource.image(context, services: services)
        let detection = try context.input(.detect, as: Detection.self)
        let decision: CropDecision
        do {
            decision = try CropGeometry.decide(
                size: image.size, faces: detection.faces, spec: item.crop, lineOverride: item.lineOverride)
        } catch {
            throw StageError(error.description)
        }
        var data: Data
        do {
            data = try image.encode(decision.rect, format: item.crop.format, quality: item.crop.quality)
        } catch let error as ImageCodecError {
            throw StageError("cannot encode the crop: \(error.message)")
        }
        if item.crop.markAI { data = AIMarking.marked(data) }
        context.workspace?.clear()
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
