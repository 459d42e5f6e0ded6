package import ElenaCore
package import ElenaEngine

/// The pipeline, in one place: every stage of a drop, in pipeline order, with what it reads, when a manifest
/// includes it and, for the drop-level collectors, how they treat items a person has not decided yet. The planner's
/// edges, the order work starts in and the runner's bookkeeping all follow from this table; a new stage is one
/// entry here plus its own file.
///
/// ```
/// generate (one node per prompt and seed, before discovery: its images are the source files)
/// outbox ─────────────────────────────────────────┐
/// ingest → detect → crop → review ─┬→ publish ←───┘              (folder)
///                      └→ fingerprint ──→ similar (the drop's near-duplicate groups)
///                                  ├→ vault ─┐
///                                  └→ upload ┴→ attach → post, message   (fanvue)
/// ```
package enum ElenaPipeline {
    /// The stages over `services`, given the instances whose state the caller keeps (the review gate's notes, the
    /// upload's tuning).
    package static func pipeline(
        services: DropServices, generate: GenerateStage = GenerateStage(), gate: ReviewGateStage = ReviewGateStage(),
        upload: UploadStage = UploadStage()
    ) -> Pipeline {
        var (gate, upload) = (gate, upload)
        gate.services = services
        upload.services = services
        let folder: @Sendable (Manifest) -> Bool = { $0.publish.to == .folder }
        let fanvue: @Sendable (Manifest) -> Bool = { $0.publish.to == .fanvue }
        return Pipeline([
            // Before discovery: one node per (prompt, seed); the images it downloads are the drop's sources.
            .job(generate) { $0.generate != nil },
            .drop(OutboxStage(services: services), when: folder),
            // The vault folders are made only once a person approved something: nothing reaches Fanvue before review.
            .drop(VaultStage(services: services), collects: [.review], policy: .available, when: fanvue),
            .item(IngestStage(services: services)),
            .item(DetectStage(services: services), reads: [.ingest]),
            .item(CropStage(services: services), reads: [.ingest, .detect]),
            .item(FingerprintStage(services: services), reads: [.ingest, .crop]),
            .item(gate, reads: [.crop]),
            .drop(SimilarStage(), collects: [.fingerprint], policy: .available),
            .item(PublishFolderStage(services: services), reads: [.review], after: [.outbox], when: folder),
            .item(upload, reads: [.review], when: fanvue),
            .drop(AttachStage(services: services), collects: [.upload], after: [.vault], policy: .available, when: fanvue),
            .drop(PostStage(services: services), collects: [.upload], after: [.attach], policy: .decided) {
                $0.publish.to == .fanvue && $0.publish.post != nil
            },
            .drop(MessageStage(services: services), collects: [.upload], after: [.attach], policy: .decided) {
                $0.publish.to == .fanvue && $0.publish.message != nil
            },
        ])
    }

    /// The pipeline's shape alone (what `plan`, `--dry-run` and `plan --graph` need).
    package static var shape: PipelineShape { pipeline(services: .planningOnly).shape }
}
