package import ElenaCore
package import ElenaEngine
import Foundation

/// The Fanvue API, or a clear error when the run has none.
func fanvue(_ services: DropServices) throws -> any FanvueAudiences {
    guard let fanvue = services.fanvue else {
        throw StageError(
            "publishing to Fanvue needs the app's settings (FANVUE_CLIENT_ID, FANVUE_CLIENT_SECRET) and a login: "
                + "run `elena-run auth login` (see `elena-run auth --help`)")
    }
    return fanvue
}

/// `vault` (drop level, fanvue target): once a person approved items, makes sure the vault folders they go to
/// exist (409 means it does). With nothing approved it is skipped, so no call reaches Fanvue before review.
package struct VaultStage: Stage {
    package let name = StageName.vault
    package let version = 2
    package var resolvesBeforeCache: Bool { true }

    /// Creates the stage.
    /// Fanvue, and which account it is.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func resolve(_ context: NodeContext) -> StageOutcome? {
        context.collected.isEmpty ? .skipped("nothing approved yet") : nil
    }

    static func folders(_ plan: DropPlan) -> [String] {
        Array(Set(plan.items.compactMap(\.publish.vault))).sorted()
    }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        .object(["folders": .array(Self.folders(plan).map(JSONValue.string))])
    }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        .string(services.fanvueTarget)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        let folders = Array(Set(context.collected.compactMap { context.plan.items[$0.item].publish.vault })).sorted()
        guard !folders.isEmpty else { return .skipped("nothing approved yet") }
        let api = try fanvue(services)
        var created: [String] = []
        for folder in folders where try await api.ensureFolder(folder) { created.append(folder) }
        if !created.isEmpty {
            try await services.fanvueStore.append([
                EventRecord(
                    kind: "fanvue.vault", drop: context.plan.drop, stage: .vault,
                    message: "created vault folder\(created.count == 1 ? "" : "s") \(created.joined(separator: ", "))",
                    at: context.environment.now())
            ])
        }
        let summary = JSONValue.object([
            "folders": .array(folders.map(JSONValue.string)), "created": .array(created.map(JSONValue.string)),
        ])
        return .done(NodeOutput(digest: Digest.of(folders.joined(separator: "\n")), summary: summary))
    }
}

/// `upload` (per item, fanvue target): Fanvue's multipart flow, resumable. Every step is written to the store
/// before the next, so a run killed at any point continues the same upload; when it must start over (the session
/// expired), the earlier media never completed, so there are never two ready copies. The same bytes are never
/// uploaded twice to one account, even from two drops.
package struct UploadStage: Stage {
    package let name = StageName.upload
    package let version = 1
    /// Part size (at least 5 MiB except the last).
    let partSize: Int
    /// Parts in flight at once.
    let parallelParts: Int
    /// First and longest wait between processing polls.
    let pollDelays: (first: Double, longest: Double)
    /// Give up waiting for processing after this long.
    let pollTimeout: Double
    /// The wait before the first poll, learned from this run's uploads (shared by every item's node).
    let firstPollDelay: Locked<PollLearning>

    /// What this run has learned about Fanvue's processing time.
    struct PollLearning {
        /// The wait before the first poll.
        var first: Double
        /// The longest first wait after which the media was still processing.
        var tooEarly = 0.0
    }

    /// Fanvue, and which account it is (set by the pipeline: `ElenaPipeline.pipeline(services:upload:)`).
    package var services = DropServices.planningOnly

    /// Creates the stage.
    package init(partSize: Int = 8 * 1024 * 1024, parallelParts: Int = 3, firstPoll: Double = 1, longestPoll: Double = 15, pollTimeout: Double = 900) {
        self.partSize = max(5 * 1024 * 1024, partSize)
        self.parallelParts = max(1, parallelParts)
        self.pollDelays = (firstPoll, longestPoll)
        self.pollTimeout = pollTimeout
        self.firstPollDelay = Locked(PollLearning(first: firstPoll))
    }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        .string(services.fanvueTarget)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let item = context.item, let approved = context.inputs[.review], let crop = approved.artifactPath else {
            throw StageError("internal error: upload without an approved crop (a bug)")
        }
        let environment = context.environment
        let api = try fanvue(services)
        let account = try await api.account
        let data = try FileSystem.read(environment.layout.absolute(crop))
        guard Digest.of(data) == approved.digest else {
            throw StageError("the crop \(crop) changed on disk since it was approved; run again to recrop it")
        }
        // Two runners sharing the database upload these bytes once: the second waits, then finds the upload ready.
        return try await environment.locks.withLock("upload:\(account):\(approved.digest.hex)") {
            try await self.upload(data, item: item, approved: approved, account: account, api: api, context: context)
        }
    }

    /// The upload itself, under its lock.
    func upload(
        _ data: Data, item: PlannedItem, approved: NodeOutput, account: String, api: any FanvuePublishing,
        context: NodeContext
    ) async throws -> StageOutcome {
        let environment = context.environment
        let store = try services.fanvueStore
        let filename = "\(item.stem).\(item.crop.format.fileExtension)"
        let now = environment.now
        var record =
            try await store.upload(contentDigest: approved.digest, account: account)
            ?? UploadRecord(
                contentDigest: approved.digest, account: account, itemID: item.id, uploadID: nil, mediaUUID: nil,
                status: .created, partSize: partSize, parts: [], createdAt: now(), updatedAt: now())
        var startedOver = 0
        while record.status != .ready {
            if record.status == .failed || record.uploadID == nil {
                // A new session: the earlier one (if any) never completed, so it never became a second ready copy.
                let session = try await api.createUpload(name: item.stem, filename: filename)
                record.uploadID = session.uploadID
                record.mediaUUID = session.mediaUUID
                record.status = .created
                record.parts = []
                record.partSize = partSize
                record.error = nil
                record.updatedAt = now()
                try await store.saveUpload(record)
            }
            guard let uploadID = record.uploadID, let media = record.mediaUUID else { continue }
            if record.status == .created || record.status == .uploading {
                do {
                    try await uploadParts(data, uploadID: uploadID, record: &record, api: api, store: store, now: now)
                    _ = try await api.completeUpload(uploadID: uploadID, parts: record.parts)
                } catch let error as any RemoteError
                    where !error.isAuthentication && [400, 404, 409, 410].contains(error.statusCode ?? 0)
                {
                    // Completed by a run that was killed before it could say so, or a session that is gone. (A refused
                    // login says nothing about the session: it is rethrown and the parts already sent are kept.)
                    let status = try? await api.mediaStatus(media)
                    if status != "processing" && status != "ready" {
                        startedOver += 1
                        guard startedOver <= 2 else { throw error }
                        record.status = .failed
                        record.error = "\(error)"
                        try await store.saveUpload(record)
                        continue
                    }
                }
                record.status = .completed
                record.updatedAt = now()
                try await store.saveUpload(record)
            }
            if record.status == .completed {
                let status = try await waitUntilProcessed(media, api: api)
                record.updatedAt = now()
                if status == "ready" {
                    record.status = .ready
                    try await store.saveUpload(record)
                } else {
                    record.status = .failed
                    record.error = "Fanvue could not process the media (status \(status))"
                    try await store.saveUpload(record)
                    throw StageError("Fanvue could not process \(filename) (status \(status)); the next run uploads it again")
                }
            }
        }
        guard let media = record.mediaUUID else { throw StageError("internal error: a ready upload without media (a bug)") }
        try await ReviewCopies.markPublished(
            approved, item: item, drop: context.plan.drop, layout: environment.layout, store: try services.fanvueStore)
        try await store.updateItems([(item.id, ItemUpdate(status: .published, error: .some(nil)))], at: now())
        try await store.append([
            EventRecord(
                kind: "fanvue.upload", drop: context.plan.drop, itemID: item.id, stage: .upload,
                message: "\(item.name): uploaded to Fanvue as media \(media)",
                data: .object(["media": .string(media), "sha256": .string(approved.digest.hex)]), at: now())
        ])
        return .done(
            NodeOutput(
                digest: Digest.of("fanvue-media:" + media),
                summary: .object(["media": .string(media), "sha256": .string(approved.digest.hex), "account": .string(account)]),
                value: UploadedMedia(media: media, account: account)))
    }

    /// A recorded upload read back; one that no longer reads is uploaded again (the ledger's upload record makes
    /// that a look-up, not a second upload).
    package func value(fromRecorded output: NodeOutput) throws -> (any Sendable)? {
        try JSONCoding.decode(UploadedMedia.self, from: output.summary)
    }

    /// Puts every part not yet recorded, a few at a time, saving each ETag as it arrives.
    func uploadParts(
        _ data: Data, uploadID: String, record: inout UploadRecord, api: any FanvuePublishing, store: any RunStore,
        now: @Sendable () -> Date
    ) async throws {
        let size = record.partSize
        let count = max(1, (data.count + size - 1) / size)
        let missing = (1...count).filter { number in !record.parts.contains { $0.number == number } }
        guard !missing.isEmpty else { return }
        record.status = .uploading
        try await store.saveUpload(record)
        var index = 0
        while index < missing.count {
            let batch = Array(missing[index..<min(missing.count, index + parallelParts)])
            index += batch.count
            let parts = try await withThrowingTaskGroup(of: UploadRecord.Part.self) { group in
                for number in batch {
                    let start = (number - 1) * size
                    let bytes = data.subdata(in: start..<min(data.count, start + size))
                    group.addTask {
                        let url = try await api.partURL(uploadID: uploadID, part: number)
                        let etag = try await api.putPart(url: url, bytes: bytes)
                        return UploadRecord.Part(number: number, etag: etag, size: bytes.count)
                    }
                }
                var done: [UploadRecord.Part] = []
                for try await part in group { done.append(part) }
                return done
            }
            record.parts.append(contentsOf: parts)
            record.parts.sort { $0.number < $1.number }
            record.updatedAt = now()
            try await store.saveUpload(record)
        }
    }

    /// Polls the media with growing waits until it is ready or failed. Each poll costs a request from the rate-limit
    /// budget, so the first wait adapts to how long Fanvue takes: an upload that needed several polls makes the
    /// next ones wait that long before their first; uploads ready at the first poll let the wait shrink slowly, but
    /// never back to a wait that was already seen to be too short.
    func waitUntilProcessed(_ media: String, api: any FanvuePublishing) async throws -> String {
        let first = firstPollDelay.withLock { $0.first }
        var delay = first
        var waited = 0.0
        var polls = 0
        while true {
            try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            waited += delay
            polls += 1
            let status = try await api.mediaStatus(media)
            if status == "ready" || status == "error" {
                learn(firstWait: first, processingTook: waited, polls: polls)
                return status
            }
            if waited > pollTimeout { throw StageError("Fanvue is still processing media \(media) after \(Int(waited)) s; run again later") }
            delay = min(pollDelays.longest, delay * 1.6)
        }
    }

    /// Adjusts the first wait after an upload whose first poll came `firstWait` seconds after completion was
    /// processed within `waited` seconds, in `polls` polls.
    func learn(firstWait: Double, processingTook waited: Double, polls: Int) {
        firstPollDelay.withLock { learning in
            if polls > 1 {
                learning.tooEarly = max(learning.tooEarly, firstWait)
                learning.first = min(pollDelays.longest, max(learning.first, waited))
            } else {
                learning.first = max(pollDelays.first, learning.tooEarly * 1.2, learning.first * 0.98)
            }
        }
    }
}

/// `attach` (drop level, fanvue target): adds the uploaded media to their vault folders, at most 100 per call,
/// skipping what the ledger already has there.
package struct AttachStage: Stage {
    package let name = StageName.attach
    package let version = 1

    /// Creates the stage.
    /// Fanvue, and which account it is.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue { .null }

    package func itemParameters(for item: PlannedItem?) -> JSONValue {
        .string(services.fanvueTarget)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        let environment = context.environment
        var byFolder: [String: [String]] = [:]
        var account = ""
        for (item, uploaded) in try context.collected(.upload, as: UploadedMedia.self) {
            guard let folder = context.plan.items[item].publish.vault else { continue }
            account = uploaded.account ?? account
            byFolder[folder, default: []].append(uploaded.media)
        }
        var added = 0
        if !byFolder.isEmpty {
            let api = try fanvue(services)
            if account.isEmpty { account = try await api.account }
            for (folder, media) in byFolder.sorted(by: { $0.key < $1.key }) {
                let known = try await services.fanvueStore.vaultMedia(account: account, folder: folder)
                let missing = media.filter { !known.contains($0) }
                var start = 0
                while start < missing.count {
                    let batch = Array(missing[start..<min(missing.count, start + 100)])
                    start += batch.count
                    do {
                        added += try await api.attach(folder: folder, mediaUUIDs: batch)
                    } catch let error as any RemoteError where error.statusCode == 404 {
                        _ = try await api.ensureFolder(folder)  // deleted on Fanvue since: make it again
                        added += try await api.attach(folder: folder, mediaUUIDs: batch)
                    }
                    try await services.fanvueStore.addVaultMedia(account: account, folder: folder, mediaUUIDs: batch, at: environment.now())
                }
            }
            if added > 0 {
                try await services.fanvueStore.append([
                    EventRecord(
                        kind: "fanvue.attach", drop: context.plan.drop, stage: .attach,
                        message: "added \(added) media to vault folder\(byFolder.count == 1 ? "" : "s") \(byFolder.keys.sorted().joined(separator: ", "))",
                        at: environment.now())
                ])
            }
        }
        let listing = byFolder.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.sorted().joined(separator: ","))" }
        return .done(
            NodeOutput(
                digest: Digest.of(listing.joined(separator: "\n")),
                summary: .object(["attached": .int(added), "media": .int(byFolder.values.reduce(0) { $0 + $1.count })])))
    }
}

/// What `upload` hands on: the Fanvue media an approved crop became.
package struct UploadedMedia: Codable, Sendable, Hashable {
    /// The media uuid.
    package var media: String
    /// The account it belongs to (the creator's uuid).
    package var account: String?
}

/// The approved, uploaded items a collector received: (item, media uuid).
func uploadedItems(_ context: NodeContext) throws -> [(item: PlannedItem, media: String)] {
    try context.collected(.upload, as: UploadedMedia.self).map { (context.plan.items[$0.item], $0.value.media) }
}

/// `post` (drop level, fanvue target): one feed post with the drop's approved media, once every item is decided.
/// Never posts media already sent or sold as pay-per-view unless the manifest allows it, and never posts twice.
package struct PostStage: Stage {
    package let name = StageName.post
    package let version = 1

    /// Creates the stage.
    /// Fanvue, and which account it is.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        guard let post = plan.manifest.publish.post else { return .null }
        var members: [JSONValue.Member] = [
            .init("audience", .string(post.audience)), .init("text", .string(Self.text(plan))),
            .init("price", post.priceCents.map(JSONValue.int) ?? .null), .init("at", post.at.map(JSONValue.string) ?? .null),
            .init("allow_ppv", .bool(post.allowPPVItems)),
        ]
        if plan.manifest.publish.allowSimilar { members.append(.init("allow_similar", .bool(true))) }  // only when set
        return .object(members)
    }

    static func text(_ plan: DropPlan) -> String {
        let publish = plan.manifest.publish
        return Disclosure.apply(publish.post?.text ?? publish.caption, disclosure: publish.disclosure)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let spec = context.plan.manifest.publish.post else { return .skipped("no post in the manifest") }
        var uploaded = try uploadedItems(context).sorted { $0.item.name < $1.item.name }
        guard !uploaded.isEmpty else { return .skipped("no approved media to post") }
        let store = try services.fanvueStore
        let api = try fanvue(services)
        let account = try await api.account
        let text = Self.text(context.plan)
        // The items an earlier post of this drop already shows stay out: when an upload failed, the post went out
        // with the others, and the next run posts only what was missing, never a picture twice.
        let earlier = try await postedItems(drop: context.plan.drop, account: account, text: text, uploaded: uploaded, api: api)
        if !earlier.items.isEmpty {
            uploaded = uploaded.filter { !earlier.items.contains($0.item.id) }
            if uploaded.isEmpty {
                let uuids = earlier.posts.sorted()
                return .done(
                    NodeOutput(
                        digest: Digest.of("post:" + uuids.joined(separator: ",")),
                        summary: .object(["post": .string(uuids.last ?? ""), "posts": .array(uuids.map(JSONValue.string))])))
            }
        }
        let sold = try await store.ppvSends(items: uploaded.map(\.item.id))
        if !spec.allowPPVItems, !sold.isEmpty {
            let names = uploaded.filter { sold[$0.item.id] != nil }.map(\.item.name)
            throw StageError(
                "refusing to post \(names.count) item\(names.count == 1 ? "" : "s") already sent or sold as pay-per-view "
                    + "(\(names.joined(separator: ", "))) to the feed; set publish.post.allow_ppv_items: true to allow it")
        }
        // Nor a picture that looks like one sold as pay-per-view (a neighbouring seed, a recut, a re-saved copy).
        if !spec.allowPPVItems, !context.plan.manifest.publish.allowSimilar {
            let lookalikes = try await Sender(store: store, locks: context.environment.locks, now: context.environment.now)
                .lookalikes(of: uploaded.map(\.item.id))
            let soldLookalikes = try await store.ppvSends(items: Array(Set(lookalikes.values.flatMap { $0.map(\.id) })))
            let clashes = uploaded.compactMap { entry in
                lookalikes[entry.item.id]?.first { soldLookalikes[$0.id] != nil }.map { "\(entry.item.name) looks like \($0.name)" }
            }
            if !clashes.isEmpty {
                throw StageError(
                    "refusing to post \(clashes.count) item\(clashes.count == 1 ? "" : "s") to the feed that "
                        + "\(clashes.count == 1 ? "is a near-duplicate" : "are near-duplicates") of pictures sold as pay-per-view "
                        + "(\(clashes.joined(separator: "; "))); set publish.allow_similar: true to allow it")
            }
        }
        let media = uploaded.map(\.media)
        let requestKey = "post:\(account):\(context.plan.drop):\(Digest.of(media.joined(separator: ",") + "\n" + text).prefix(24))"
        let publishAt = spec.at.flatMap(Timestamp.parse)
        // Two runners sharing the database make one post: the second waits, then finds it recorded.
        let remaining = uploaded
        return try await context.environment.locks.withLock(requestKey) {
            try await self.post(
                remaining, spec: spec, text: text, requestKey: requestKey, account: account, publishAt: publishAt,
                api: api, context: context)
        }
    }

    /// The items the drop's earlier posts show, and those posts. A post a run started but never heard back about is
    /// looked for on Fanvue first (by its text and media), and counts only if it is there.
    func postedItems(
        drop: String, account: String, text: String, uploaded: [(item: PlannedItem, media: String)], api: any FanvuePublishing
    ) async throws -> (items: Set<Digest>, posts: [String]) {
        let store = try services.fanvueStore
        let mediaByItem = Dictionary(uploaded.map { ($0.item.id, $0.media) }, uniquingKeysWith: { first, _ in first })
        var items: Set<Digest> = []
        var posts: [String] = []
        for post in try await store.allPosts() where post.drop == drop && (post.account ?? account) == account {
            var uuid = post.uuid
            if uuid == nil, let key = post.requestKey {
                let media = post.items.compactMap { mediaByItem[$0] }
                guard media.count == post.items.count, let found = try await api.findPost(text: text, mediaUUIDs: media) else {
                    continue
                }
                try await store.savePost(
                    requestKey: key, account: account, drop: drop, audience: post.audience, priceCents: post.priceCents,
                    text: text, publishAt: nil, allowPPV: true, uuid: found, items: post.items, at: Date())
                uuid = found
            }
            guard let uuid, !uuid.isEmpty else { continue }
            items.formUnion(post.items)
            posts.append(uuid)
        }
        return (items, posts)
    }

    /// Creates the post (or finds the one an earlier run made), under its lock.
    func post(
        _ uploaded: [(item: PlannedItem, media: String)], spec: PostSpec, text: String, requestKey: String,
        account: String, publishAt: Date?, api: any FanvuePublishing, context: NodeContext
    ) async throws -> StageOutcome {
        let store = try services.fanvueStore
        let media = uploaded.map(\.media)
        func record(_ uuid: String?) async throws {
            try await store.savePost(
                requestKey: requestKey, account: account, drop: context.plan.drop, audience: spec.audience,
                priceCents: spec.priceCents, text: text, publishAt: publishAt, allowPPV: spec.allowPPVItems, uuid: uuid,
                items: uploaded.map(\.item.id), at: context.environment.now())
        }
        var uuid = try await store.post(requestKey: requestKey)
        if uuid == "" {
            // Started by a run that stopped before hearing back: look before posting again.
            uuid = try await api.findPost(text: text, mediaUUIDs: media)
            if let uuid { try await record(uuid) }
        }
        if uuid == nil || uuid == "" {
            try await record(nil)
            let request = PostRequest(audience: spec.audience, text: text, mediaUUIDs: media, priceCents: spec.priceCents, publishAt: publishAt)
            do {
                uuid = try await api.createPost(request)
            } catch let error as any RemoteError where error.statusCode == nil || (error.statusCode ?? 0) >= 500 {
                guard let found = try await api.findPost(text: text, mediaUUIDs: media) else { throw error }
                uuid = found
            }
            try await record(uuid)
            try await store.append([
                EventRecord(
                    kind: "fanvue.post", drop: context.plan.drop, stage: .post,
                    message: "posted \(media.count) media to the feed (\(spec.audience))", data: .object(["post": .string(uuid ?? "")]),
                    at: context.environment.now())
            ])
        }
        return .done(NodeOutput(digest: Digest.of("post:" + (uuid ?? "")), summary: .object(["post": .string(uuid ?? "")])))
    }
}

/// `message` (drop level, fanvue target): the drop's approved media as a pay-per-view message to each listed fan
/// (many fans: one mass message to a custom list of exactly them; `at:` schedules it). An item is never sent twice
/// to one fan: sends are claimed in the ledger (whose unique constraint decides) before
/// the message goes out, and a claim left unconfirmed by a killed run is checked on Fanvue before sending again.
package struct MessageStage: Stage {
    package let name = StageName.message
    package let version = 1

    /// Creates the stage.
    /// Fanvue, and which account it is.
    package let services: DropServices

    /// Creates the stage.
    package init(services: DropServices) { self.services = services }

    package func sharedParameters(for item: PlannedItem?, plan: DropPlan) -> JSONValue {
        guard let message = plan.manifest.publish.message else { return .null }
        var members: [JSONValue.Member] = [
            .init("to", .array(message.to.map(JSONValue.string))),
            .init("text", .string(Self.text(plan))),
            .init("price", (message.priceCents ?? plan.manifest.publish.priceCents).map(JSONValue.int) ?? .null),
        ]
        if let at = message.at { members.append(.init("at", .string(at))) }  // only when set: other keys stay
        // Allowing near-duplicates changes who gets what: the message is looked at again (only when set: other keys stay).
        if plan.manifest.publish.allowSimilar { members.append(.init("allow_similar", .bool(true))) }
        return .object(members)
    }

    static func text(_ plan: DropPlan) -> String {
        let publish = plan.manifest.publish
        return Disclosure.apply(publish.message?.text ?? publish.caption, disclosure: publish.disclosure)
    }

    package func run(_ context: NodeContext) async throws -> StageOutcome {
        guard let spec = context.plan.manifest.publish.message else { return .skipped("no message in the manifest") }
        let uploaded = try uploadedItems(context).sorted { $0.item.name < $1.item.name }
        guard !uploaded.isEmpty else { return .skipped("no approved media to send") }
        let api = try fanvue(services)
        let price = spec.priceCents ?? context.plan.manifest.publish.priceCents
        let text = Self.text(context.plan)
        let items = uploaded.map { SendableItem(id: $0.item.id, name: $0.item.name, media: $0.media) }
        let store = try services.fanvueStore
        let sender = Sender(
            store: store, locks: context.environment.locks, now: context.environment.now,
            allowSimilar: context.plan.manifest.publish.allowSimilar)
        let now = context.environment.now
        let codec = services.codec
        // Many fans may get one mass message through a custom list of exactly them; a few get one message each.
        let results = try await sender.send(
            items, toFans: spec.to.map { $0.lowercased() }, text: text, priceCents: price, at: spec.at.flatMap(Timestamp.parse),
            context: SendContext(account: nil, drop: context.plan.drop, via: "manifest"), api: api,
            before: { fans in
                // What the creator sent these fans by hand counts: their chats are read first unless read lately.
                guard spec.reconcile, !fans.isEmpty else { return }
                _ = try await Reconciler(store: store, api: api, now: now, codec: codec)
                    .run(fans: fans, freshness: Reconciler.freshness)
            })
        let sent = results.compactMap(\.messageUUID)
        let massMessages = Array(Set(results.compactMap(\.massMessageID))).sorted()
        let skipped = results.reduce(0) { $0 + $1.skipped.count }
        let refused = results.compactMap { result in result.error.map { "fan \(result.fan): \($0)" } }
        if !refused.isEmpty {
            throw StageError("Fanvue refused \(refused.count) message\(refused.count == 1 ? "" : "s") (\(refused.joined(separator: "; "))); the next run tries those fans again")
        }
        var summary: [JSONValue.Member] = [
            .init("messages", .array(sent.map(JSONValue.string))), .init("skipped_already_sent", .int(skipped)),
        ]
        if !massMessages.isEmpty { summary.append(.init("mass_messages", .array(massMessages.map(JSONValue.string)))) }
        return .done(
            NodeOutput(
                digest: Digest.of("messages:" + (sent + massMessages).joined(separator: ",")), summary: .object(summary)))
    }
}
