package import ElenaCore
package import ElenaEngine
import Foundation

/// `fingerprint`: what the item's picture looks like, and its crop (the part that is published), as perceptual
/// hashes (`NearDuplicates.kind`). Bytes are not pictures: a neighbouring seed, a re-saved copy or a recut crop is
/// a new file of the same picture, and these fingerprints are how review groups them, how the guards refuse to
/// send a fan the same picture twice, and how `find` names where a leaked copy comes from. The crop's fingerprint
/// is taken from the decoded picture the crop was cut from (shared with detect and crop in the item's workspace),
/// over the crop's rectangle, so no file is decoded twice.
package struct FingerprintStage: Stage {
    package let name = StageName.fingerprint
    package let version = 1

    /// The codec (decoding goes through the item's workspace).
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        .object(["structure": .string(NearDuplicates.kind.rawValue), "colour": .string(FingerprintKind.chroma.rawValue)])
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        let image = try DecodedSource.image(context, services: services)
        defer { context.workspace?.clear() }
        let crop = context.inputs[.crop]
        guard let rect = crop.flatMap({ Self.rect(in: $0.summary) }) else {
            throw StageError("internal error: fingerprint without the crop's rectangle (a bug)")
        }
        let prints: ItemFingerprints
        do {
            prints = ItemFingerprints(
                picture: try NearDuplicates.fingerprint(of: image), crop: try NearDuplicates.fingerprint(of: image, in: rect))
        } catch let error as ImageCodecError {
            throw StageError("cannot fingerprint the image: \(error.message)")
        }
        let summary = Self.summary(prints)
        return .done(NodeOutput(digest: Digest.of(JSONText(summary).text), summary: summary, value: prints))
    }

    package func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? {
        guard let prints = Self.prints(in: output.summary) else {
            throw StageError("the recorded fingerprints do not read")
        }
        return prints
    }

    /// The recorded form: `{"picture": "<pHash hex>-<chroma hex>", "crop": "…"}`.
    static func summary(_ prints: ItemFingerprints) -> JSONValue {
        .object(["picture": .string(prints.picture.description), "crop": prints.crop.map { .string($0.description) } ?? .null])
    }

    /// The fingerprints a finished step handed on: its value when it ran now, else read back from its summary.
    package static func prints(of output: NodeOutput) -> ItemFingerprints? {
        output.value as? ItemFingerprints ?? prints(in: output.summary)
    }

    /// The fingerprints' texts as the ledger keeps them, without reading them (a run compares these with the
    /// item rows for every item: a cached step's summary is not parsed whole).
    package static func texts(of output: NodeOutput) -> (picture: String, crop: String?)? {
        if let prints = output.value as? ItemFingerprints { return (prints.picture.description, prints.crop?.description) }
        guard let picture = JSONValue.parse(output.summary.text, at: ["picture"])?.stringValue else { return nil }
        return (picture, JSONValue.parse(output.summary.text, at: ["crop"])?.stringValue)
    }

    /// The fingerprints a recorded summary holds (nil when it does not read).
    package static func prints(in summary: JSONText) -> ItemFingerprints? {
        let value = summary.value
        guard let picture = value["picture"]?.stringValue.flatMap(PictureFingerprint.init(text:)) else { return nil }
        return ItemFingerprints(picture: picture, crop: value["crop"]?.stringValue.flatMap(PictureFingerprint.init(text:)))
    }

    /// The rectangle the crop kept, as its stage recorded it.
    static func rect(in summary: JSONText) -> PixelRect? {
        guard let rect = JSONValue.parse(summary.text, at: ["decision", "rect"]), let x = rect["x"]?.intValue,
            let y = rect["y"]?.intValue, let width = rect["width"]?.intValue, let height = rect["height"]?.intValue
        else { return nil }
        return PixelRect(x: x, y: y, width: width, height: height)
    }
}
