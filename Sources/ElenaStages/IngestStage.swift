package import ElenaCore
package import ElenaEngine
import Foundation

/// `ingest`: checks the source file is an image, links it into `1_raw/`, records the item once and reads the
/// ComfyUI lineage from its PNG text chunks.
package struct IngestStage: Stage {
    package let name = StageName.ingest
    package let version = 1

    /// Creates the stage.
    /// The codec (for a PNG's compressed text chunks) and the image limits.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        .object(["drop": .string(plan.drop)])
    }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        guard let item else { return .null }
        // An image generate: made: what it set is part of the lineage this step records.
        guard let facts = services.generated[item.source.relativePath] else { return .string(item.stem) }
        return .object(["stem": .string(item.stem), "generated": facts.json])
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item else { throw StageError("internal error: ingest without an item (a bug)") }
        let environment = context.environment
        let data = try FileSystem.read(item.source.path)
        guard Digest.of(data) == item.id else {
            // The digest the run planned with is stale: forget it, so the next run hashes the file again even if its
            // size, time and inode say it did not change (a writer that keeps them would otherwise fail here forever).
            if !environment.dryRun {
                try? await services.store.saveStatEntries([
                    StatEntry(path: item.source.path, stamp: FileStamp(size: -1, mtimeNanoseconds: 0, inode: 0), digest: item.id)
                ])
            }
            throw StageError("the file changed while it was being read; run again once it is complete")
        }
        let header: ImageHeader
        do {
            header = try ImageHeader.read(data)
        } catch {
            throw StageError(error.description)
        }
        try Self.check(header, limits: services.limits)
        var lineage = Self.lineage(data, header: header, codec: services.codec)
        if let facts = services.generated[item.source.relativePath] {
            lineage = (lineage ?? ComfyLineage()).completed(with: facts)
        }

        let raw = environment.layout.raw(drop: context.plan.drop, stem: item.stem, sourceName: item.name)
        let rawAbsolute = environment.layout.absolute(raw)
        try FileSystem.linkOrCopy(item.source.path, to: rawAbsolute)
        guard let stamp = FileSystem.stamp(rawAbsolute) else { throw StageError("the raw copy \(raw) vanished") }

        let size = header.orientedSize
        let now = environment.now()
        let lineageJSON = lineage.map { JSONCoding.value($0) }
        try await services.store.upsertItems(
            [
                ItemRecord(
                    id: item.id, drop: context.plan.drop, originalName: item.name, originalPath: item.source.path,
                    rawPath: raw, status: .ingested, vault: item.publish.vault, category: item.publish.category,
                    tags: item.publish.tags, description: item.publish.caption, priceCents: item.publish.priceCents,
                    width: size.width, height: size.height, lineage: lineageJSON, createdAt: now, updatedAt: now)
            ], sourcePaths: [item.id: item.source.path])

        var summary: [JSONValue.Member] = [
            .init("format", .string(header.format.rawValue)),
            .init("width", .int(size.width)),
            .init("height", .int(size.height)),
            .init("orientation", .int(header.orientation)),
        ]
        if let lineageJSON { summary.append(.init("lineage", lineageJSON)) }
        if !item.duplicates.isEmpty { summary.append(.init("duplicates", .array(item.duplicates.map(JSONValue.string)))) }
        return .done(NodeOutput(digest: item.id, artifactPath: raw, artifactStamp: stamp, summary: .object(summary)))
    }

    /// Refuses images the crop stage could not handle safely.
    static func check(_ header: ImageHeader, limits: DecodeLimits) throws {
        if header.width > limits.maxSide || header.height > limits.maxSide
            || header.width * header.height > limits.maxPixels
        {
            let megapixels = Double(header.width) * Double(header.height) / 1_000_000
            let side = max(header.width, header.height)
            // Name the limit it breaks: a side above the side limit, else the pixel count.
            let broken =
                side > limits.maxSide
                ? "its \(side) px side is above the limit of \(limits.maxSide) px"
                : "its \(NumberText.format((megapixels * 10).rounded() / 10)) megapixels are above the limit of "
                    + "\(limits.maxPixels / 1_000_000) megapixels"
            throw StageError("image too large: \(header.width)x\(header.height): \(broken); export it smaller")
        }
        if header.animated {
            throw StageError(
                "animated \(header.format.rawValue.uppercased()): only still images can be cropped; export one frame")
        }
        if header.format == .gif {
            throw StageError("GIF images are not supported; export a PNG or JPEG")
        }
    }

    /// Reads ComfyUI's `prompt` and `workflow` text chunks.
    static func lineage(_ data: Data, header: ImageHeader, codec: any ImageCodec) -> ComfyLineage? {
        guard header.format == .png else { return nil }
        var texts: [String: String] = [:]
        for entry in PNGChunks.texts(data) where entry.keyword == "prompt" || entry.keyword == "workflow" {
            if let text = entry.text {
                texts[entry.keyword] = text
            } else if let compressed = entry.compressed, let inflated = try? codec.inflate(compressed, maxOutput: 32 << 20) {
                texts[entry.keyword] = String(decoding: inflated, as: UTF8.self)
            }
        }
        guard let prompt = texts["prompt"] else { return nil }
        return ComfyLineage.parse(prompt: prompt, hasWorkflow: texts["workflow"] != nil)
    }
}
