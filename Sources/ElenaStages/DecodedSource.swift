import ElenaCore
import ElenaEngine
import Foundation

/// Decodes an item's raw file once per run and shares it between `detect` and `crop` through the workspace.
enum DecodedSource {
    static func image(_ context: NodeContext) throws -> any DecodedImage {
        guard let raw = context.inputs[.ingest]?.artifactPath else {
            throw StageError("internal error: no raw file from ingest (a bug)")
        }
        let environment = context.environment
        guard let workspace = context.workspace else { return try load(raw, environment) }
        return try workspace.value("decoded:\(raw)") { try load(raw, environment) }
    }

    static func load(_ raw: String, _ environment: RunEnvironment) throws -> any DecodedImage {
        let data = try FileSystem.read(environment.layout.absolute(raw))
        let header: ImageHeader
        do {
            header = try ImageHeader.read(data)
        } catch {
            throw StageError(error.description)
        }
        do {
            return try environment.codec.decode(data, header: header, limits: environment.limits)
        } catch let error as ImageCodecError {
            throw StageError("cannot decode the image: \(error.message)")
        }
    }
}
