package import ElenaCore
package import ElenaEngine
import Foundation

/// `publish` to a folder: copies each approved crop into the outbox with a JSON sidecar (vault, price, tags,
/// caption) and records the publication. The same bytes are never published twice to one outbox: a later change
/// of tags or price rewrites the sidecar only, and an image removed from the outbox is not put back; but when a
/// later approved version of the item replaced it and the manifest goes back to this one, the outbox holds this
/// one again, so the image and its sidecar always describe the item's current approved crop. The review copy
/// moves from `4_approved/` to `5_uploaded/`.
package struct PublishFolderStage: Stage {
    package let name = StageName.publish
    package let version = 1

    /// Creates the stage.
    /// The outbox.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    /// The metadata that goes into the sidecar (and the cache key).
    static func metadata(_ item: PlannedItem, plan: DropPlan) -> JSONValue {
        let publish = item.publish
        return .object([
            "vault": publish.vault.map(JSONValue.string) ?? .null,
            "price": publish.priceCents.map { .double(Double($0) / 100) } ?? .null,
            "price_cents": publish.priceCents.map(JSONValue.int) ?? .null,
            "currency": .string("USD"),
            "tags": .array(publish.tags.map(JSONValue.string)),
            "caption": .string(Disclosure.apply(publish.caption, disclosure: plan.manifest.publish.disclosure)),
            "category": publish.category.map(JSONValue.string) ?? .null,
        ])
    }

    /// The outbox file name of an item's crop (stable across recrops: the newest approved version wins).
    package static func fileName(_ item: PlannedItem) -> String { "\(item.stem).\(item.crop.format.fileExtension)" }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        guard let item else { return .null }
        return Self.metadata(item, plan: plan)
    }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        guard let item else { return .null }
        return .object(["outbox": .string(services.outbox), "file": .string(Self.fileName(item))])
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item, let approved = context.inputs[.review], let crop = approved.artifactPath else {
            throw StageError("internal error: publish without an approved crop (a bug)")
        }
        let environment = context.environment
        let store = try services.store
        let outbox = services.outbox
        // The same bytes are in an outbox once: published before (under the source's earlier name, say), the
        // sidecar is rewritten beside that image instead of naming a new file that would never hold it.
        let existing = try await store.publication(target: "folder", destination: outbox, digest: approved.digest)
        let file = existing?.reference ?? Self.fileName(item)
        let metadata = Self.metadata(item, plan: context.plan)
        let now = environment.now()
        var sidecar: [JSONValue.Member] = [
            .init("file", .string(file)),
            .init("sha256", .string(approved.digest.hex)),
            .init("item", .string(item.id.hex)),
            .init("drop", .string(context.plan.drop)),
            .init("source", .string(item.name)),
        ]
        if case .object(let members) = metadata { sidecar += members }
        sidecar.append(.init("published_at", .string(Timestamp.format(now))))
        let sidecarData = Data(JSONValue.object(sidecar).pretty().utf8)

        // Published before: the image is not copied again, unless a later version of the item took its place
        // (the manifest went back to settings whose approved crop this is); a file someone removed stays removed.
        let image = outbox + "/" + file
        let replaced = existing != nil && FileSystem.exists(image) && (try? FileSystem.digest(image)) != approved.digest
        if existing == nil || replaced {
            try FileSystem.copy(environment.layout.absolute(crop), to: image)
        }
        try FileSystem.writeAtomically(sidecarData, to: outbox + "/" + file + ".json")
        let inserted = try await store.savePublication(
            PublicationRecord(
                target: "folder", destination: outbox, contentDigest: approved.digest, itemID: item.id,
                drop: context.plan.drop, reference: file, metadata: metadata, publishedAt: now))

        try await ReviewCopies.markPublished(
            approved, item: item, drop: context.plan.drop, layout: environment.layout, store: try services.store)
        try await store.updateItems(
            [
                (
                    item.id,
                    ItemUpdate(
                        status: .published, vault: item.publish.vault, category: item.publish.category,
                        tags: item.publish.tags, description: metadata["caption"]?.stringValue,
                        priceCents: item.publish.priceCents, error: .some(nil))
                )
            ], at: now)
        let message =
            existing == nil && inserted
            ? "\(item.name): published to \(outbox)/\(file)" : "\(item.name): already in \(outbox); sidecar updated"
        try await store.append([
            EventRecord(
                kind: existing == nil ? "publish.folder" : "publish.metadata", drop: context.plan.drop, itemID: item.id,
                stage: .publish, message: message, data: metadata, at: now)
        ])
        // The sidecar is this node's artifact: a later run with other metadata rewrites it, and a cache hit on
        // this key afterwards (the metadata flipped back) finds it changed and writes it again.
        let sidecarPath = outbox + "/" + file + ".json"
        guard let stamp = FileSystem.stamp(sidecarPath) else { throw StageError("the sidecar \(sidecarPath) vanished") }
        return .done(
            NodeOutput(
                digest: Digest.of(sidecarData), artifactPath: sidecarPath, artifactStamp: stamp,
                summary: .object(["file": .string(outbox + "/" + file), "new": .bool(existing == nil)])))
    }
}
