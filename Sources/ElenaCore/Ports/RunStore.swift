package import Foundation

// The database behind a library, cut by role: each consumer asks for the roles it uses, and a test can give a stage
// an in-memory implementation instead of a database (ElenaTestKit's `MemoryRunCache` for the run cache alone,
// `MemoryLedger` for every role). `SQLRunStore` implements every role, on SQLite and PostgreSQL, one file per role.

/// The database behind a library, every role at once (what a run opens). `MemoryLedger` (ElenaTestKit) is one in
/// memory, keeping the same contract: a drop to any target, and `send`, `sync` and `reconcile`, run on it without a
/// database.
package typealias RunStore = StoreConnection & LibraryLedger & FanvueLedger & HistoryLedger

/// What a drop needs of the ledger whatever its target: the run and stat caches, items, reviews, publications and
/// events. A folder drop needs nothing else.
package typealias LibraryLedger = RunCache & StatCache & ItemCatalog & ReviewLedger & PublicationLedger & EventLog

/// The connection itself.
package protocol StoreConnection: Sendable {

    /// A description safe to print (no password), e.g. `sqlite /home/me/lib/elena.db`.
    var displayName: String { get }
    /// Whether writes are refused (dry runs open the database read-only).
    var isReadOnly: Bool { get }
    /// Closes connections.
    func close() async
}

/// The run cache: what each stage run produced, by cache key. The engine's only port (the runner reads it once
/// and records what finishes); `MemoryRunCache` in ElenaTestKit is the in-memory one engine tests use.
/// Look-ups are scoped to what one drop can hit, so a drop costs what it holds, not what the library holds.
package protocol RunCache: Sendable {
    /// The successful runs of the `items` given, by key (an item node's key includes the item's own digest, so no
    /// run of another item can match it).
    func cacheIndex(items: [Digest]) async throws -> [CacheKey: CachedStep]
    /// The successful runs recorded under `keys`: a drop-level node's (its key, known once the node is ready, names
    /// the items it collects) and generation's jobs.
    func cacheRecords(keys: [CacheKey]) async throws -> [CacheKey: StageRecord]
    /// Records finished stage runs (success replaces an earlier failure of the same key).
    func record(_ runs: [StageRecord]) async throws
    /// The last failed run for each key (shown by status).
    func failures(drop: String) async throws -> [StageRecord]
    /// Every recorded run of one item, oldest first (shown by `status --item`).
    func runs(itemID: Digest) async throws -> [StageRecord]
}

/// The stat cache: file digests remembered by path and stamp, so a no-op rerun hashes nothing.
package protocol StatCache: Sendable {
    /// The stat cache for paths under `prefix`.
    func statEntries(prefix: String) async throws -> [String: StatEntry]
    /// Saves stat cache entries.
    func saveStatEntries(_ entries: [StatEntry]) async throws
}

/// Items (unique bytes) and the drops that hold them.
package protocol ItemCatalog: Sendable {
    /// The successful crop run whose output is each item's current crop (`items.cropped_digest`), for a drop.
    func currentCrops(drop: String) async throws -> [Digest: StageRecord]
    /// Inserts items or refreshes their source fields, and records drop membership.
    func upsertItems(_ items: [ItemRecord], sourcePaths: [Digest: String]) async throws
    /// Applies changes to items.
    func updateItems(_ updates: [(Digest, ItemUpdate)], at: Foundation.Date) async throws
    /// Items of a drop (or every item when `drop` is nil).
    func items(drop: String?) async throws -> [ItemRecord]
    /// The fields a run projects onto the rows of a drop's items, by item: those among `items` that are the
    /// drop's (a run reads its items a part at a time).
    func rowFields(drop: String, items: [Digest]) async throws -> [Digest: ItemRowFields]
    /// One item by id or unique id prefix.
    func item(idPrefix: String) async throws -> [ItemRecord]
    /// Items a file name names: the original's name, or the name of any of its crops and review copies.
    func items(named name: String) async throws -> [ItemRecord]
    /// The fingerprints of the items among `ids` that have them (of every such item in the library when nil).
    func fingerprints(items ids: [Digest]?) async throws -> [Digest: ItemFingerprints]
    /// The structures of the items a person approved (or that were published), in any drop, that have fingerprints:
    /// two integers each, for finding which few of them may look like a picture (`lookalikes(of:among:)`).
    func decidedStructures() async throws -> [DecidedStructure]
    /// Those among `ids` that are approved or published and have fingerprints, whole.
    func decidedPictures(_ ids: [Digest]) async throws -> [DecidedPicture]
    /// The version of the decided pictures as of now, whether there are any, and `drop`'s last look for lookalikes.
    func lookalikeState(drop: String) async throws -> LookalikeState
    /// Keeps a drop's look for lookalikes, in place of its last.
    func saveLookalikeCheck(_ check: LookalikeCheck) async throws
    /// The version of the item rows as of now, and `drop`'s last comparison of its rows with a run.
    func itemRowState(drop: String) async throws -> ItemRowState
    /// Keeps a drop's comparison, in place of its last, if the item rows' version is still `check.rowsVersion`.
    /// - Returns: whether it was kept (false: a row changed since the version was read).
    @discardableResult func saveItemRowCheck(_ check: ItemRowCheck) async throws -> Bool
    /// Items among `ids` that belong to a drop other than `drop`: a picture is reviewed and published with the
    /// first drop that took it.
    func items(_ ids: [Digest], ownedByOtherThan drop: String) async throws -> [ItemRecord]

    /// How many items each drop owns in each status (the database counts; no item is loaded).
    func statusCounts() async throws -> [DropStatusCount]
    /// Every drop the ledger knows: those a manifest ran and those that hold items.
    func dropNames() async throws -> [String]
    /// The manifest (absolute path) that runs a drop, if the drop ran before.
    func dropManifest(_ drop: String) async throws -> String?
    /// Records that a manifest ran a drop (its first run, or a manifest that replaces the earlier one).
    func recordDropRun(_ drop: String, manifest: String, at: Foundation.Date) async throws
}

/// Review decisions and what a person set per item in review (the cut line, vault, price, tags).
package protocol ReviewLedger: Sendable {
    /// Review records of a drop.
    func reviews(drop: String) async throws -> [ReviewRecord]
    /// Inserts or replaces review records (keyed by item and crop digest).
    func saveReviews(_ reviews: [ReviewRecord]) async throws
    /// Records a review outcome whole, in one transaction: the review records, the items' updates (their status)
    /// and the events that tell it. Nobody reads a decision whose item still shows its old status, and a failure
    /// leaves none of it.
    func recordReviews(_ reviews: [ReviewRecord], items: [(Digest, ItemUpdate)], events: [EventRecord], at: Foundation.Date)
        async throws
    /// Records that a review copy now lives in `folder` (the decision is unchanged).
    func setReviewFolder(itemID: Digest, cropDigest: Digest, folder: ReviewFolder) async throws

    /// Human cut-line overrides of the `items` given (those that have one), as fractions of the height, by item.
    func lineOverrides(items: [Digest]) async throws -> [Digest: Double]
    /// Sets (or, with nil, removes) an item's human cut-line override.
    func setLineOverride(itemID: Digest, fraction: Double?, by: String, at: Date) async throws

    /// Per-item vault, price and tags set in review for the `items` given (those that have any), by item.
    func publishOverrides(items: [Digest]) async throws -> [Digest: PublishOverride]
    /// Sets (or, with an empty override, removes) an item's publish override.
    func setPublishOverride(itemID: Digest, _ override: PublishOverride, by: String, at: Date) async throws
}

/// What the folder target published where.
package protocol PublicationLedger: Sendable {
    /// The publication of `digest` at `destination` by `target`, if any.
    func publication(target: String, destination: String, digest: Digest) async throws -> PublicationRecord?
    /// Records a publication; returns false if one already existed (the unique constraint held).
    func savePublication(_ publication: PublicationRecord) async throws -> Bool
}

/// What reached Fanvue: uploads, vault folders, posts, and every item sent to every fan (plus the sales side).
package protocol FanvueLedger: LedgerStore {
    /// The upload of some bytes to an account, if one was started.
    func upload(contentDigest: Digest, account: String) async throws -> UploadRecord?
    /// Inserts or replaces an upload record.
    func saveUpload(_ upload: UploadRecord) async throws
    /// Media already in a vault folder (as recorded).
    func vaultMedia(account: String, folder: String) async throws -> Set<String>
    /// Records media added to a vault folder.
    func addVaultMedia(account: String, folder: String, mediaUUIDs: [String], at: Date) async throws
    /// The uuid of the post made for a request key (nil when none yet; "" when started but not confirmed).
    func post(requestKey: String) async throws -> String?
    /// Records a post: first as started (uuid nil), then with its uuid and items.
    func savePost(requestKey: String, account: String, drop: String, audience: String, priceCents: Int?, text: String,
                  publishAt: Date?, allowPPV: Bool, uuid: String?, items: [Digest], at: Date) async throws
    /// Items sent to a fan (any state), by item: the message (or mass message) that carried each, nil while only claimed.
    func sends(fan: String) async throws -> [Digest: String?]
    /// Claims item-to-fan sends before the message goes out; returns the items claimed now (the others were
    /// already sent or claimed: the schema's unique constraint decides).
    func claimSends(fan: String, items: [Digest], priceCents: Int?, context: SendContext, at: Date) async throws -> [Digest]
    /// Confirms claimed sends with the one-to-one message uuid or the mass message id that carried them.
    func confirmSends(fan: String, items: [Digest], messageUUID: String?, massMessageID: String?) async throws
    /// Gives back claims whose message certainly did not go out (Fanvue refused it), so a later send may try again.
    func releaseSends(fan: String, items: [Digest]) async throws
    /// Items of a drop sent as pay-per-view to anyone, with how many fans.
    func ppvSends(items: [Digest]) async throws -> [Digest: Int]
}

/// The append-only event log.
package protocol EventLog: Sendable {
    /// Appends to the event log.
    func append(_ events: [EventRecord]) async throws
    /// The newest events, newest last.
    func events(drop: String?, limit: Int) async throws -> [EventRecord]
}

/// An approved or published item, as near-duplicates are checked against it.
package struct DecidedPicture: Sendable, Hashable {
    package var id: Digest
    package var name: String
    package var drop: String
    package var status: ItemStatus
    package var prints: ItemFingerprints

    /// Creates one.
    package init(id: Digest, name: String, drop: String, status: ItemStatus, prints: ItemFingerprints) {
        self.id = id
        self.name = name
        self.drop = drop
        self.status = status
        self.prints = prints
    }
}

/// An item waiting for review that looks like a picture already approved or published: the nearest such picture.
package struct Lookalike: Sendable, Hashable {
    package var item: Digest
    package var other: Digest
    package var name: String
    package var drop: String
    package var status: ItemStatus

    /// Creates one.
    package init(item: Digest, other: Digest, name: String, drop: String, status: ItemStatus) {
        self.item = item
        self.other = other
        self.name = name
        self.drop = drop
        self.status = status
    }

    /// `item`'s, looking like `other`.
    package init(item: Digest, other: DecidedPicture) {
        self.init(item: item, other: other.id, name: other.name, drop: other.drop, status: other.status)
    }
}

/// A drop's look for lookalikes among the library's decided pictures, and what it was made from: while neither the
/// decided pictures (their version) nor the drop's waiting items and their fingerprints (`waiting`, a digest) have
/// changed, what it found holds.
package struct LookalikeCheck: Sendable, Hashable {
    package var drop: String
    /// The version of the decided pictures read before they were (`LookalikeState.version`).
    package var decidedVersion: Int64
    package var waiting: Digest
    package var found: [Lookalike]

    /// Creates one.
    package init(drop: String, decidedVersion: Int64, waiting: Digest, found: [Lookalike]) {
        self.drop = drop
        self.decidedVersion = decidedVersion
        self.waiting = waiting
        self.found = found
    }

    /// `found` as the ledger keeps it.
    package var foundJSON: String {
        let entries = found.map { entry in
            JSONValue.object([
                .init("item", .string(entry.item.hex)), .init("other", .string(entry.other.hex)), .init("name", .string(entry.name)),
                .init("drop", .string(entry.drop)), .init("status", .string(entry.status.rawValue)),
            ])
        }
        return JSONValue.array(entries).serialized()
    }

    /// What a kept `found` holds (nil when it does not read: then it is looked again).
    package static func found(json text: String) -> [Lookalike]? {
        guard let list = (try? JSONValue.parse(text))?.arrayValue else { return nil }
        var found: [Lookalike] = []
        for entry in list {
            guard let item = entry["item"]?.stringValue.flatMap(Digest.init(hex:)),
                let other = entry["other"]?.stringValue.flatMap(Digest.init(hex:)),
                let name = entry["name"]?.stringValue, let drop = entry["drop"]?.stringValue,
                let status = entry["status"]?.stringValue.flatMap(ItemStatus.init(rawValue:))
            else { return nil }
            found.append(Lookalike(item: item, other: other, name: name, drop: drop, status: status))
        }
        return found
    }
}

/// A drop's last comparison of its item rows with a run, made while the rows' version was `rowsVersion` (kept by the
/// database: it changes with every change to what a run compares). Each part it names was found in line: comparing
/// the rows with what the run projected onto them changed nothing. While the version is the same, a part that projects
/// the same (the same digest) is still in line, and its rows need not be read.
package struct ItemRowCheck: Sendable, Hashable {
    package var drop: String
    package var rowsVersion: Int64
    /// By the digest of a part (its items and what a run projected onto them): the flags the rows of its items
    /// waiting for review hold, for those that hold other flags than the run gave them (the run adds
    /// `near_duplicate` once the whole drop is settled).
    package var parts: [Digest: [Digest: [String]]]

    /// Creates one.
    package init(drop: String, rowsVersion: Int64, parts: [Digest: [Digest: [String]]]) {
        self.drop = drop
        self.rowsVersion = rowsVersion
        self.parts = parts
    }

    /// `parts` as the ledger keeps it: `{"<part>": {"<item>": [flags]}}`, keys in order.
    package var partsJSON: String {
        let entries = parts.map { part, flags in
            JSONValue.Member(
                part.hex,
                .object(flags.map { JSONValue.Member($0.key.hex, .array($0.value.map { .string($0) })) }))
        }
        return JSONValue.object(entries).serialized(canonical: true)
    }

    /// What a kept `parts` holds (nil when it does not read: then every row is read and compared).
    package static func parts(json text: String) -> [Digest: [Digest: [String]]]? {
        guard case .object(let entries)? = try? JSONValue.parse(text) else { return nil }
        var parts: [Digest: [Digest: [String]]] = [:]
        for entry in entries {
            guard let part = Digest(hex: entry.key), case .object(let items) = entry.value else { return nil }
            var flags: [Digest: [String]] = [:]
            for item in items {
                guard let id = Digest(hex: item.key), let list = item.value.arrayValue else { return nil }
                let strings = list.compactMap(\.stringValue)
                guard strings.count == list.count else { return nil }
                flags[id] = strings
            }
            parts[part] = flags
        }
        return parts
    }
}

/// The item rows as a run finds them before it compares them.
package struct ItemRowState: Sendable, Hashable {
    /// Changes whenever an item row is added, removed or changed in what a run compares, or an item joins or leaves
    /// a drop (kept by the database).
    package var version: Int64
    /// The drop's last comparison.
    package var last: ItemRowCheck?

    /// Creates one.
    package init(version: Int64, last: ItemRowCheck?) {
        self.version = version
        self.last = last
    }
}

/// The library's decided pictures as a run finds them before it looks for lookalikes.
package struct LookalikeState: Sendable, Hashable {
    /// Changes whenever a picture is decided or undecided, or a decided one changes (kept by the database).
    package var version: Int64
    /// Whether any item is approved or published and has fingerprints.
    package var anyDecided: Bool
    /// The drop's last look.
    package var last: LookalikeCheck?

    /// Creates one.
    package init(version: Int64, anyDecided: Bool, last: LookalikeCheck?) {
        self.version = version
        self.anyDecided = anyDecided
        self.last = last
    }
}

/// An approved or published item's structures (pHash) as integers: what is read of every such item in the library.
package struct DecidedStructure: Sendable, Hashable {
    package var id: Digest
    /// Its picture's structure (nil when it is not 64 bits: then it is always looked at whole).
    package var picture: UInt64?
    /// Its crop's (nil when it has none, or not of 64 bits).
    package var crop: UInt64?

    /// Creates one.
    package init(id: Digest, picture: UInt64?, crop: UInt64?) {
        self.id = id
        self.picture = picture
        self.crop = crop
    }

    /// An item's, from its fingerprints.
    package init(id: Digest, prints: ItemFingerprints) {
        self.init(
            id: id, picture: NearDuplicates.Packed(prints.picture.structure)?.bits,
            crop: prints.crop.flatMap { NearDuplicates.Packed($0.structure)?.bits })
    }
}

extension ItemCatalog {
    /// For each of `items` that looks like a picture already approved or published (of `decided`, the library's:
    /// `decidedStructures()`), the nearest such picture, as `NearDuplicates.lookalikes` finds it among all of them.
    /// Only the few whose structure is close are read whole: in a library of 100,000 decided pictures, reading every
    /// one's fingerprints and names took a 500-item drop's no-op rerun 0.28 s of its 0.47.
    package func lookalikes(
        of items: [(id: Digest, prints: ItemFingerprints)], among decided: [DecidedStructure]
    ) async throws -> [Digest: DecidedPicture] {
        let candidates = NearDuplicates.candidates(for: items.map(\.prints), among: decided)
        guard !candidates.isEmpty else { return [:] }
        let order = Dictionary(candidates.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let pictures = try await decidedPictures(candidates).sorted { order[$0.id, default: .max] < order[$1.id, default: .max] }
        return NearDuplicates.lookalikes(of: items, among: pictures)
    }
}

/// How many items a drop owns in one status.
package struct DropStatusCount: Sendable, Hashable {
    package var drop: String
    package var status: ItemStatus
    package var count: Int

    package init(drop: String, status: ItemStatus, count: Int) {
        self.drop = drop
        self.status = status
        self.count = count
    }
}
