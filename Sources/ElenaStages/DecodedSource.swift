import ElenaCore
import ElenaEngine
import Foundation

/// Decodes an item's raw file once per run and shares it between `detect` and `crop` through the workspace.
enum DecodedSource {
    static func image(_ context: NodeContext, services: DropServices) throws -> any DecodedImage {
        guard let raw = context.inputs[.ingest]?.artifactPath else {
            throw StageError("internal error: no raw file from ingest (a bug)")
        }
        let layout = context.environment.layout
        guard let workspace = context.workspace else { return try load(raw, layout, services) }
        return try workspace.value("decoded:\(raw)") { try load(raw, layout, services) }
    }

    static func load(_ raw: String, _ layout: LibraryLayout, _ services: DropServices) throws -> any DecodedImage {
        let data = try FileSystem.read(layout.absolute(raw))
        let header: ImageHeader
        do {
            header = try ImageHeader.read(data)
        } catch {
            throw StageError(error.description)
        }
        do {
            return try services.codec.decode(data, header: header, limits: services.limits)
        } catch let error as ImageCodecError {
            throw StageError("cannot decode the image: \(error.message)")
        }
    }
}
