package import ElenaCore
import ElenaEngine
import ElenaStages
package import Foundation

/// A problem a request can cause, with the HTTP status it maps to.
package struct ReviewError: Error, Sendable, CustomStringConvertible {
    /// 400, 403, 404 or 500.
    package var status: Int
    /// One sentence for the page's error banner.
    package var description: String

    /// Creates an error.
    package init(_ status: Int, _ description: String) {
        self.status = status
        self.description = description
    }
}

/// The review queue of one drop and the decisions made on it. Every change goes to the store (with an event) and
/// the review folders are kept in step, using the same `ReviewState` logic as the review gate.
package actor ReviewService {
    /// One reviewable item: its current crop, its review state and what the page shows.
    struct Entry {
        var item: ItemRecord
        var crop: StageRecord
        var state: ReviewState
        var publish: PublishOverride?
    }

    /// What one undoable request changed.
    enum Undo {
        case decisions([ReviewRecord], label: String)
        case metadata([Digest: PublishOverride?], label: String)
    }

    nonisolated let drop: String
    let manifestDisplay: String
    let defaults: ItemPublish
    let layout: LibraryLayout
    let store: any RunStore
    let codec: any ImageCodec
    let recropper: @Sendable (Digest, Double) async throws -> Void
    let now: @Sendable () -> Date
    private var undoStack: [Undo] = []
    /// Whether a request holds the queue (`inTurn`), and the requests waiting for it, in the order they came.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var entries: [Digest: Entry] = [:]
    private var order: [Digest] = []
    /// What the page shows of each entry, in order, and the version of the whole, as of the last refresh.
    private var shown: [(id: Digest, json: JSONValue)] = []
    private var version = ""
    /// The near-duplicate groups of the queue, by member: every member of a group maps to the whole group (in the
    /// queue's order). Absent: the item shows a picture no other item of the queue shows.
    private var groups: [Digest: [Digest]] = [:]
    /// The fingerprints the groups were computed from, in the queue's order: a refresh that finds the same ones
    /// (every poll, while no picture changed) keeps the groups instead of comparing every pair again.
    private var groupedPrints: [ItemPrint] = []
    /// For the items of the queue flagged `near_duplicate`: the approved or published item (any drop) each looks
    /// like, the nearest.
    private var lookalikes: [Digest: DecidedPicture] = [:]
    /// What the look-alikes were found from: the flagged items' fingerprints and the version of the library's decided
    /// pictures (which the database changes with every decision, here, in a run or in another drop). While both hold,
    /// a refresh (every poll) keeps the look-alikes instead of reading every approved and published picture of the
    /// library again.
    private var lookalikesFrom: LookalikeInputs?

    /// What the look-alikes depend on.
    struct LookalikeInputs: Equatable {
        var flagged: [ItemPrint]
        var decided: Int64
    }

    /// An item's fingerprints as the groups compare them.
    struct ItemPrint: Equatable {
        var id: Digest
        var prints: ItemFingerprints
    }

    /// Creates the service.
    /// - Parameters:
    ///   - defaults: the manifest's vault, price and tags (shown where an item has no override).
    ///   - recropper: sets an item's human cut line and recrops it (the CLI runs the drop).
    package init(
        drop: String, manifestDisplay: String, defaults: ItemPublish, layout: LibraryLayout, store: any RunStore,
        codec: any ImageCodec, now: @escaping @Sendable () -> Date = { Date() },
        recropper: @escaping @Sendable (Digest, Double) async throws -> Void
    ) {
        self.drop = drop
        self.manifestDisplay = manifestDisplay
        self.defaults = defaults
        self.layout = layout
        self.store = store
        self.codec = codec
        self.now = now
        self.recropper = recropper
    }

    // MARK: The queue

    /// Reloads the queue from the store, first bringing the store and the folders in step (folder moves made
    /// while the page is open become decisions here).
    func refresh() async throws {
        let items = try await store.items(drop: drop)
        let crops = try await store.currentCrops(drop: drop)
        let reviews = Dictionary(grouping: try await store.reviews(drop: drop), by: \.itemID)
        let overrides = try await store.publishOverrides(items: items.map(\.id))
        let index = try await ReviewFolderIndex.scan(layout, drop: drop, catalog: store)
        var fresh: [Digest: Entry] = [:]
        var order: [Digest] = []
        for item in items.sorted(by: { $0.originalName < $1.originalName }) {
            guard let digest = item.croppedDigest, let crop = crops[item.id], let cropPath = crop.artifactPath,
                let record = reviews[item.id]?.first(where: { $0.cropDigest == digest })
            else { continue }
            let state = ReviewState.assess(
                itemID: item.id, cropDigest: digest, drop: drop, fileName: record.fileName,
                records: reviews[item.id] ?? [], index: index, layout: layout, now: now())
            if !state.isSettled {
                try await state.apply(cropPath: cropPath, itemName: item.originalName, layout: layout, store: store, now: now())
            }
            fresh[item.id] = Entry(item: item, crop: crop, state: state, publish: overrides[item.id])
            order.append(item.id)
        }
        entries = fresh
        self.order = order
        try await findNearDuplicates()
        shown = order.compactMap { id in fresh[id].map { (id, json($0)) } }
        version = Self.version(shown.map(\.json))
    }

    /// Groups the queue's near-identical pictures (`NearDuplicates.groups`, every pair: once per queue load, and
    /// only when a fingerprint changed), and names the approved or published item each item flagged
    /// `near_duplicate` looks like (`NearDuplicates.matches` against the ledger's decided pictures, read only when
    /// some item of the queue carries the flag, and again only when the flagged items or the decided pictures'
    /// version changed).
    private func findNearDuplicates() async throws {
        let prints = order.compactMap { id in entries[id]?.item.fingerprints.map { ItemPrint(id: id, prints: $0) } }
        if prints != groupedPrints {
            var byMember: [Digest: [Digest]] = [:]
            for group in NearDuplicates.groups(prints.map { (id: $0.id, prints: $0.prints) })
            where group.count <= NearDuplicates.largestGroup {
                for member in group { byMember[member] = group }
            }
            groups = byMember
            groupedPrints = prints
        }
        let flagged = prints.filter { entries[$0.id]?.item.flags.contains(CropFlag.nearDuplicate.rawValue) == true }
        guard !flagged.isEmpty else {
            lookalikes = [:]
            lookalikesFrom = nil
            return
        }
        let inputs = LookalikeInputs(flagged: flagged, decided: try await store.lookalikeState(drop: drop).version)
        guard inputs != lookalikesFrom else { return }
        lookalikes = try await store.lookalikes(
            of: flagged.map { (id: $0.id, prints: $0.prints) }, among: try await store.decidedStructures())
        lookalikesFrom = inputs
    }

    /// The JSON of one entry, as API.md describes.
    func json(_ entry: Entry) -> JSONValue {
        let summary = entry.crop.output.value
        let decision = summary["decision"]
        let id = entry.item.id.hex
        let publish = entry.publish
        let version = entry.state.cropDigest.prefix(8)
        let tags: [String] = publish?.tags ?? defaults.tags
        let price: Int? = publish?.priceCents ?? defaults.priceCents
        let vault: String? = publish?.vault ?? defaults.vault
        var members: [JSONValue.Member] = []
        func add(_ key: String, _ value: JSONValue?) { members.append(JSONValue.Member(key, value ?? .null)) }
        add("id", .string(id))
        add("name", .string(entry.item.originalName))
        add("decision", .string(entry.state.decision.rawValue))
        add("status", .string(entry.item.status.rawValue))
        add("flags", decision?["flags"] ?? .array([]))
        add("strategy", decision?["applied"])
        add("reason", decision?["reason"])
        add("detector", summary["detector"])
        add("faces", summary["faces"] ?? .int(0))
        add("width", entry.item.width.map(JSONValue.int))
        add("height", entry.item.height.map(JSONValue.int))
        add("line", decision?["line"])
        add("rect", decision?["rect"])
        add("crop_digest", .string(entry.state.cropDigest.hex))
        add("file", .string(entry.state.fileName))
        add("folder", .string(entry.state.folder.rawValue))
        add("tags", .array(tags.map(JSONValue.string)))
        add("price", price.map { JSONValue.double(Double($0) / 100) })
        add("vault", vault.map(JSONValue.string))
        add("lineage", entry.item.lineage)
        if let group = groups[entry.item.id] {
            add(
                "group",
                .object([
                    "id": .string(group[0].hex), "size": .int(group.count),
                    "members": .array(group.map { .string($0.hex) }),
                ]))
        } else {
            add("group", nil)
        }
        if let other = lookalikes[entry.item.id] {
            add(
                "looks_like",
                .object([
                    "id": .string(other.id.hex), "name": .string(other.name), "drop": .string(other.drop),
                    "status": .string(other.status.rawValue),
                ]))
        } else {
            add("looks_like", nil)
        }
        if let identity = decision?["identity"], let scores = identity["scores"]?.arrayValue?.compactMap(\.doubleValue) {
            // auto: the main face's score against the persona, and what it led to.
            let keep = identity["keepAbove"]?.doubleValue ?? 1
            let lips = identity["lipsAbove"]?.doubleValue ?? 1
            let best = scores.max() ?? 0
            add(
                "identity",
                .object([
                    "score": .double(best), "scores": .array(scores.map(JSONValue.double)), "keep_above": .double(keep),
                    "lips_above": .double(lips),
                    "verdict": .string(best >= keep ? "hers" : best >= lips ? "close" : "not hers"),
                ]))
        }
        add("thumb", .string("/thumbs/\(id).jpg?v=\(version)"))
        add("cut", .string("/thumbs/\(id).cut.jpg?v=\(version)"))
        add("original", .string("/images/\(id)/original.jpg"))
        add("crop", .string("/images/\(id)/crop.jpg?v=\(version)"))
        return .object(members)
    }

    static let countOrder = ["total", "pending", "approved", "rejected", "flagged"]

    /// `GET /api/items`: the counts, the queue's version, and the items from `offset` (`limit` of them, all when
    /// nil). With `since` equal to the version, only the counts: a poll of an unchanged queue of 10,000 items does
    /// not carry 9 MB of items. A page asked for `at` the version held now is served as it is (the next pages of
    /// one load do not each read the ledger again; a change meanwhile shows in the next poll).
    func queue(offset: Int = 0, limit: Int? = nil, since: String? = nil, at held: String? = nil) async throws -> JSONValue {
        try await inTurn { try await queueNow(offset: offset, limit: limit, since: since, at: held) }
    }

    private func queueNow(offset: Int, limit: Int?, since: String?, at held: String?) async throws -> JSONValue {
        if held == nil || held != version || shown.isEmpty { try await refresh() }
        var members: [JSONValue.Member] = [
            .init("drop", .string(drop)), .init("manifest", .string(manifestDisplay)), .init("counts", counts()),
            .init("total", .int(shown.count)), .init("version", .string(version)),
        ]
        if since == version {
            members.append(.init("unchanged", .bool(true)))
        } else {
            let start = min(offset, shown.count)
            let end = limit.map { min(shown.count, start + $0) } ?? shown.count
            members.append(.init("offset", .int(start)))
            members.append(.init("items", .array(shown[start..<end].map(\.json))))
        }
        return .object(members)
    }

    /// How many items the queue holds, by decision, and how many are flagged.
    private func counts() -> JSONValue {
        var counts: [String: Int] = ["total": order.count, "pending": 0, "approved": 0, "rejected": 0, "flagged": 0]
        for id in order {
            guard let entry = entries[id] else { continue }
            counts[entry.state.decision.rawValue, default: 0] += 1
            // A hand recrop is a human choice, not a warning: it does not count as flagged.
            let flags = CropDecision.recordedFlags(in: entry.crop.output)
            if flags.contains(where: { $0 != CropFlag.humanOverride.rawValue }) { counts["flagged", default: 0] += 1 }
        }
        return .object(Self.countOrder.map { JSONValue.Member($0, .int(counts[$0] ?? 0)) })
    }

    /// A short name for the whole queue as the page would show it: any change to any item changes it. Hashed by
    /// value (this server process's seed), not serialised: the queue of 10,000 items is named at every request.
    static func version(_ items: [JSONValue]) -> String {
        var hasher = Hasher()
        hasher.combine(items)
        return String(UInt64(bitPattern: Int64(hasher.finalize())), radix: 16)
    }

    /// Finds an entry by full id or a unique prefix of at least 12 hex characters.
    func entry(_ id: String) throws -> Entry {
        let lowered = id.lowercased()
        guard lowered.count >= 12, lowered.count <= 64, lowered.allSatisfy(\.isHexDigit) else {
            throw ReviewError(404, "no such item")
        }
        if lowered.count == 64, let digest = Digest(hex: lowered) {
            guard let entry = entries[digest] else { throw ReviewError(404, "no such item") }
            return entry
        }
        let matches = order.filter { $0.hex.hasPrefix(lowered) }
        guard matches.count == 1, let match = matches.first, let entry = entries[match] else {
            throw ReviewError(404, "no such item")
        }
        return entry
    }

    /// Loads the queue when it is empty (file routes may come before any /api/items).
    func ensureLoaded() async throws {
        guard order.isEmpty else { return }
        try await inTurn { if order.isEmpty { try await refresh() } }
    }

    /// Runs one request that reads or changes the queue, after those that came before it have finished.
    ///
    /// The service is an actor, but an actor lets another call in at each `await`: an undo that came while a
    /// decision waited for the store to confirm it found nothing to undo yet (the decision was in the ledger and
    /// the folder already), and a poll between a change's two reads of the queue hid items from its answer.
    private func inTurn<T>(_ body: () async throws -> T) async throws -> T {
        if busy { await withCheckedContinuation { waiting.append($0) } } else { busy = true }
        defer { if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() } }
        return try await body()
    }

    // MARK: Decisions

    /// Entries without repeats (a selection may name an item twice).
    static func unique(_ entries: [Entry]) -> [Entry] {
        var seen: Set<Digest> = []
        return entries.filter { seen.insert($0.item.id).inserted }
    }

    /// `POST /api/decisions`.
    func decide(_ ids: [String], _ decision: ReviewDecision) async throws -> JSONValue {
        try await inTurn { try await decideNow(ids, decision) }
    }

    private func decideNow(_ ids: [String], _ decision: ReviewDecision) async throws -> JSONValue {
        try await refresh()
        let chosen = try Self.unique(ids.map(entry))
        var previous: [ReviewRecord] = []
        for entry in chosen {
            if let record = entry.state.save ?? entry.state.record { previous.append(record) }
        }
        try await apply(decision: { _ in decision }, to: chosen)
        undoStack.append(.decisions(previous, label: "\(decision.rawValue) \(chosen.count) item\(chosen.count == 1 ? "" : "s")"))
        return try await answer(changed: chosen.count, ids: chosen.map(\.item.id))
    }

    /// Records decisions as the page's (the file is where the last refresh found it; the move follows).
    private func apply(decision: (Entry) -> ReviewDecision, to chosen: [Entry]) async throws {
        let index = try await ReviewFolderIndex.scan(layout, drop: drop, catalog: store)
        let at = now()
        // Read once for the whole selection (each entry is another item: `unique`).
        let reviews = Dictionary(grouping: try await store.reviews(drop: drop), by: \.itemID)
        for entry in chosen {
            guard let cropPath = entry.crop.artifactPath else { continue }
            let records = reviews[entry.item.id] ?? []
            guard var current = records.first(where: { $0.cropDigest == entry.state.cropDigest }) else { continue }
            let original = current
            let wanted = decision(entry)
            guard wanted != current.decision else { continue }
            current.decision = wanted
            current.decidedBy = "page"
            current.decidedAt = at
            var state = ReviewState.assess(
                itemID: entry.item.id, cropDigest: entry.state.cropDigest, drop: drop, fileName: current.fileName,
                records: records.map { $0.cropDigest == current.cropDigest ? current : $0 }, index: index, layout: layout,
                now: at)
            state.save = state.save ?? current
            state.record = original
            try await state.apply(cropPath: cropPath, itemName: entry.item.originalName, layout: layout, store: store, now: at)
        }
    }

    /// A metadata field in a request: absent (keep), null (back to the manifest's value), or a new value.
    enum Change<Value: Sendable>: Sendable {
        case keep
        case clear
        case set(Value)
    }

    /// `POST /api/metadata`: vault, price and tags for a selection.
    func setMetadata(
        _ ids: [String], tags: Change<[String]>, priceCents: Change<Int>, vault: Change<String>
    ) async throws -> JSONValue {
        try await inTurn { try await setMetadataNow(ids, tags: tags, priceCents: priceCents, vault: vault) }
    }

    private func setMetadataNow(
        _ ids: [String], tags: Change<[String]>, priceCents: Change<Int>, vault: Change<String>
    ) async throws -> JSONValue {
        try await refresh()
        let chosen = try Self.unique(ids.map(entry))
        if case .set(let cents) = priceCents, cents < 300 {
            throw ReviewError(400, "the price must be at least 3.00 USD (Fanvue's minimum)")
        }
        if case .set(let name) = vault, name.isEmpty || name.count > 255 {
            throw ReviewError(400, "the vault name must have 1 to 255 characters")
        }
        var previous: [Digest: PublishOverride?] = [:]
        let at = now()
        for entry in chosen {
            previous[entry.item.id] = .some(entry.publish)
            var override = entry.publish ?? PublishOverride()
            switch tags {
            case .keep: break
            case .clear: override.tags = nil
            case .set(let list): override.tags = list
            }
            switch priceCents {
            case .keep: break
            case .clear: override.priceCents = nil
            case .set(let cents): override.priceCents = cents
            }
            switch vault {
            case .keep: break
            case .clear: override.vault = nil
            case .set(let name): override.vault = name
            }
            try await store.setPublishOverride(itemID: entry.item.id, override, by: "page", at: at)
            // The ledger's item row shows what will be published.
            try await store.updateItems(
                [
                    (
                        entry.item.id,
                        ItemUpdate(
                            vault: override.vault ?? defaults.vault, tags: override.tags ?? defaults.tags,
                            priceCents: override.priceCents ?? defaults.priceCents)
                    )
                ], at: at)
        }
        var data: [JSONValue.Member] = [.init("items", .array(chosen.map { .string($0.item.id.hex) }))]
        if case .set(let list) = tags { data.append(.init("tags", .array(list.map(JSONValue.string)))) }
        if case .set(let cents) = priceCents { data.append(.init("price_cents", .int(cents))) }
        if case .set(let name) = vault { data.append(.init("vault", .string(name))) }
        try await store.append([
            EventRecord(
                kind: "review.metadata", drop: drop, message: "metadata set on \(chosen.count) item(s) in review",
                data: .object(data), at: at)
        ])
        undoStack.append(.metadata(previous, label: "metadata of \(chosen.count) item\(chosen.count == 1 ? "" : "s")"))
        return try await answer(changed: chosen.count, ids: chosen.map(\.item.id))
    }

    /// `POST /api/undo`.
    func undo() async throws -> JSONValue {
        try await inTurn { try await undoNow() }
    }

    private func undoNow() async throws -> JSONValue {
        guard let last = undoStack.popLast() else { return .object(["undone": .null, "items": .array([])]) }
        try await refresh()
        switch last {
        case .decisions(let records, let label):
            // A decision is undone on the crop it was made on. An item recropped since shows other bytes, which
            // nobody decided on: they keep their own decision, and the earlier crop's record gets its old one back.
            let isCurrent = { (record: ReviewRecord) in self.entries[record.itemID]?.state.cropDigest == record.cropDigest }
            let current = records.filter(isCurrent)
            let superseded = records.filter { !isCurrent($0) }
            let byItem = Dictionary(current.map { ($0.itemID, $0.decision) }, uniquingKeysWith: { first, _ in first })
            let chosen = current.compactMap { entries[$0.itemID] }
            try await apply(decision: { byItem[$0.item.id] ?? .pending }, to: chosen)
            if !superseded.isEmpty { try await store.saveReviews(superseded) }
            try await store.append([
                EventRecord(kind: "review.undo", drop: drop, message: "undid: \(label)", at: now())
            ])
            return try await answer(undone: label, ids: records.map(\.itemID))
        case .metadata(let previous, let label):
            for (item, override) in previous {
                let restored = override ?? PublishOverride()
                try await store.setPublishOverride(itemID: item, restored, by: "page", at: now())
                try await store.updateItems(
                    [
                        (
                            item,
                            ItemUpdate(
                                vault: restored.vault ?? defaults.vault, tags: restored.tags ?? defaults.tags,
                                priceCents: restored.priceCents ?? defaults.priceCents)
                        )
                    ], at: now())
            }
            try await store.append([EventRecord(kind: "review.undo", drop: drop, message: "undid: \(label)", at: now())])
            return try await answer(undone: label, ids: Array(previous.keys))
        }
    }

    /// `POST /api/recrop`: a human cut line, applied now by the same crop code.
    func recrop(_ id: String, line: Double) async throws -> JSONValue {
        try await inTurn { try await recropNow(id, line: line) }
    }

    private func recropNow(_ id: String, line: Double) async throws -> JSONValue {
        try await refresh()
        guard line >= 0, line < 0.95 else { throw ReviewError(400, "the cut line must be at least 0 and below 0.95 of the height") }
        let entry = try entry(id)
        try await recropper(entry.item.id, line)
        try await refresh()
        guard let updated = entries[entry.item.id] else { throw ReviewError(500, "the item left the queue while it was recropped") }
        return .object(["item": json(updated)])
    }

    private func answer(changed: Int, ids: [Digest]) async throws -> JSONValue {
        try await answer(.init("changed", .int(changed)), ids: ids)
    }

    private func answer(undone: String, ids: [Digest]) async throws -> JSONValue {
        try await answer(.init("undone", .string(undone)), ids: ids)
    }

    /// A change's answer: the items it changed, and with them the counts and the queue's version before and after.
    /// Every item that differs between the two is in the answer (one a folder move changed meanwhile too), so a
    /// page that held the version before holds the version after once it has merged them, with no reload. When
    /// items came or went, `previous_version` is null: the page reloads the queue.
    private func answer(_ head: JSONValue.Member, ids: [Digest]) async throws -> JSONValue {
        let (beforeOrder, previous) = (order, version)
        let before = Dictionary(uniqueKeysWithValues: shown.map { ($0.id, $0.json) })
        try await refresh()
        var changed = Set(ids)
        for (id, json) in shown where before[id] != json { changed.insert(id) }
        return .object([
            head,
            .init("items", .array(shown.filter { changed.contains($0.id) }.map(\.json))),
            .init("counts", counts()),
            .init("previous_version", order == beforeOrder ? .string(previous) : .null),
            .init("version", .string(version)),
        ])
    }

    // MARK: Images

    /// An entry's current crop: the bytes that would be published.
    func cropFile(_ id: String) async throws -> ReviewServer.ServedImage {
        try await ensureLoaded()
        let entry = try entry(id)
        guard let path = entry.crop.artifactPath else { throw ReviewError(404, "no crop") }
        return ReviewServer.ServedImage(path: path, crop: entry.state.cropDigest)
    }

    /// Where a derived image of an entry is cached, and what it is made from: the thumbnail from the current crop
    /// (what would be published), the cut view and the original from the oriented original. The image work itself
    /// happens outside the actor (`ReviewImages.make`), so thumbnails are made in parallel.
    func derivedSource(_ id: String, kind: DerivedImage) async throws -> ReviewImages.Source {
        try await ensureLoaded()
        let entry = try entry(id)
        let crop = entry.state.cropDigest
        let line = entry.crop.output.value["decision"]?["line"]?.intValue ?? 0
        let stem = "\(entry.item.id.prefix(16))-\(crop.prefix(8))"
        switch kind {
        case .thumbnail:
            guard let path = entry.crop.artifactPath else { throw ReviewError(404, "no crop") }
            return ReviewImages.Source(file: path, cached: ".cache/review/\(stem)-crop.jpg", line: 0, kind: kind, crop: crop)
        case .cutView, .original:
            guard let raw = entry.item.rawPath else { throw ReviewError(404, "no original") }
            let name = kind == .cutView ? "\(stem)-cut.jpg" : "\(entry.item.id.prefix(16))-original.jpg"
            return ReviewImages.Source(file: raw, cached: ".cache/review/" + name, line: line, kind: kind, crop: crop)
        }
    }

    /// The derived images.
    enum DerivedImage: Sendable {
        /// The crop, 320 px wide.
        case thumbnail
        /// The original, 320 px wide, with the cut line drawn and the removed part dimmed.
        case cutView
        /// The oriented original, at most 2048 px on its long side.
        case original
    }
}

/// Makes and caches the review page's derived images.
enum ReviewImages {
    /// What to make, from which library file, and where to keep it.
    struct Source: Sendable {
        var file: String
        var cached: String
        var line: Int
        var kind: ReviewService.DerivedImage
        /// The crop the image shows (the thumbnail) or whose cut it draws.
        var crop: Digest
    }

    /// The cached file's library-relative path, made first when missing.
    static func make(_ source: Source, layout: LibraryLayout, codec: any ImageCodec) throws -> String {
        if FileSystem.stamp(layout.absolute(source.cached)) != nil { return source.cached }
        let data = try FileSystem.read(layout.absolute(source.file))
        let header = try ImageHeader.read(data)
        let image = try codec.decode(data, header: header, limits: .standard)
        let output: Data
        switch source.kind {
        case .thumbnail, .cutView:
            let width = min(320, image.width)
            let height = max(1, image.height * width / max(1, image.width))
            let marked = source.kind == .cutView ? try image.withCutLine(at: source.line) : image
            let small = try marked.resized(to: PixelSize(width: width, height: height), smooth: true)
            output = try small.encode(PixelRect(x: 0, y: 0, width: width, height: height), format: .jpeg, quality: 82)
        case .original:
            let scale = min(1, 2048 / Double(max(image.width, image.height)))
            let size = PixelSize(
                width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)))
            let resized = scale < 1 ? try image.resized(to: size, smooth: true) : image
            output = try resized.encode(PixelRect(x: 0, y: 0, width: size.width, height: size.height), format: .jpeg, quality: 88)
        }
        try FileSystem.writeAtomically(output, to: layout.absolute(source.cached))
        return source.cached
    }
}
