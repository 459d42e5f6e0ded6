package import ElenaCore
package import Foundation

/// The whole ledger (`RunStore`) in memory: a drop runs on it with no database, whatever its target. It keeps the
/// contract `SQLRunStore` keeps, schema constraints included (`StoreContractTests` and `LedgerStoreTests` run the
/// role cases on both). The library roles are in this file; what reached Fanvue and the sales side are in
/// MemoryLedger+Fanvue.swift (`FanvueLedger`), Fanvue's own history and the campaigns in MemoryLedger+History.swift
/// (`HistoryLedger`): with those extensions it is a whole `RunStore`.
/// Every method runs under one lock, so each call is one transaction, as each call is on the database.
/// What it does not mirror: dates are kept as given (the database keeps milliseconds); there is no read-only mode
/// (a store opened for a dry run refuses writes); columns no method reads back are not kept (when a purchase was
/// synced, when a vault media was attached, a fan's update time); where the SQL leaves an order or a choice to the
/// database (ties in time, two items for one media), it is fixed here and said where it happens; text is ordered as
/// SQLite orders it (by code point), which a PostgreSQL collation may not.
package final class MemoryLedger: StoreConnection, LibraryLedger {
    /// Every table, as the schema has them.
    struct State {
        var stat: [String: StatEntry] = [:]
        var items: [Digest: ItemRecord] = [:]
        /// Drop → item → the source path it was found at.
        var members: [String: [Digest: String]] = [:]
        var drops: [String: String] = [:]
        var reviews: [ReviewKey: ReviewRecord] = [:]
        var lines: [Digest: Double] = [:]
        var publishOverrides: [Digest: PublishOverride] = [:]
        var publications: [PublicationKey: PublicationRecord] = [:]
        var events: [EventRecord] = []
        /// Uploads, vault folders, posts, sends, purchases, fans, sync values (MemoryLedger+Fanvue.swift).
        var fanvue = FanvueTables()
        /// Chats as read, external media, campaigns (MemoryLedger+History.swift).
        var history = HistoryTables()
        /// How many times the library's decided pictures were read (`decidedStructures`).
        var decidedReads = 0
        /// Each drop's last look for lookalikes.
        var lookalikeChecks: [String: LookalikeCheck] = [:]
        /// How many items' rows were read for comparison with a run (`rowFields`).
        var rowFieldReads = 0
        /// Each drop's last comparison of its item rows with a run.
        var itemRowChecks: [String: ItemRowCheck] = [:]
        /// The item rows' version, and what a run compares as it was when the version was last asked for.
        var itemRowsVersion: Int64 = 0
        var itemRowsSeen: Int?
    }
    /// A review's key: the item and its crop.
    struct ReviewKey: Hashable {
        var item: Digest
        var crop: Digest
    }
    /// A publication's key: the unique constraint of `publications`.
    struct PublicationKey: Hashable {
        var target: String
        var destination: String
        var digest: Digest
    }
    /// Every table, behind the one lock.
    let state = Locked(State())
    private let runs = MemoryRunCache()
    /// Tests: awaited once `recordReviews` has committed, before it returns, as a slow database's answer comes
    /// after its commit. A test holds a caller there to see what others can do meanwhile.
    package let afterRecordingReviews = Locked<(@Sendable () async -> Void)?>(nil)

    /// An empty ledger.
    package init() {}

    // MARK: The connection

    package var displayName: String { "memory" }
    /// Never: the in-memory ledger has no read-only mode (a dry run on it is the caller's to keep from writing).
    package var isReadOnly: Bool { false }
    package func close() async {}

    // MARK: Run cache (a failed run marks its item failed, as the database does in the same transaction)

    package func cacheIndex(items: [Digest]) async throws -> [CacheKey: CachedStep] {
        try await runs.cacheIndex(items: items)
    }

    package func cacheRecords(keys: [CacheKey]) async throws -> [CacheKey: StageRecord] {
        try await runs.cacheRecords(keys: keys)
    }

    package func record(_ records: [StageRecord]) async throws {
        try await runs.record(records)
        state.withLock { state in
            for run in records where run.status == .failed {
                guard let item = run.itemID, var stored = state.items[item] else { continue }
                stored.status = .failed
                stored.error = "\(run.stage.rawValue): \(run.error ?? "failed")"
                stored.updatedAt = run.startedAt
                state.items[item] = stored
            }
        }
    }

    package func failures(drop: String) async throws -> [StageRecord] { try await runs.failures(drop: drop) }

    package func runs(itemID: Digest) async throws -> [StageRecord] { try await runs.runs(itemID: itemID) }

    // MARK: Stat cache

    package func statEntries(prefix: String) async throws -> [String: StatEntry] {
        state.withLock { $0.stat.filter { $0.key.hasPrefix(prefix) } }
    }

    package func saveStatEntries(_ entries: [StatEntry]) async throws {
        state.withLock { state in
            for entry in entries { state.stat[entry.path] = entry }
        }
    }

    // MARK: Items

    package func currentCrops(drop: String) async throws -> [Digest: StageRecord] {
        let (members, items) = state.withLock { ($0.members[drop] ?? [:], $0.items) }
        var result: [Digest: (record: StageRecord, matches: Bool)] = [:]
        for record in try await runs.runs(matching: { $0.stage == .crop && $0.status == .succeeded }) {
            guard let id = record.itemID, members[id] != nil, let item = items[id], record.outputDigest == item.croppedDigest
            else { continue }
            let matches = CropDecision.recordedFlags(in: record.output) == item.flags
            if matches || result[id]?.matches != true { result[id] = (record, matches) }
        }
        return result.mapValues(\.record)
    }

    package func upsertItems(_ records: [ItemRecord], sourcePaths: [Digest: String]) async throws {
        state.withLock { state in
            for record in records {
                if var stored = state.items[record.id] {
                    stored.originalName = record.originalName
                    stored.originalPath = record.originalPath
                    stored.rawPath = record.rawPath
                    stored.width = record.width
                    stored.height = record.height
                    stored.lineage = record.lineage
                    stored.updatedAt = record.updatedAt
                    state.items[record.id] = stored
                } else {
                    // What a new row holds: the rest starts empty, as the table's defaults.
                    var fresh = record
                    fresh.croppedName = nil
                    fresh.croppedDigest = nil
                    fresh.fanvueMediaUUID = nil
                    fresh.error = nil
                    fresh.timesPurchased = 0
                    fresh.revenueCents = 0
                    state.items[record.id] = fresh
                }
                if let path = sourcePaths[record.id] { state.members[record.drop, default: [:]][record.id] = path }
            }
        }
    }

    package func updateItems(_ updates: [(Digest, ItemUpdate)], at date: Date) async throws {
        state.withLock { Self.update(&$0, updates, at: date) }
    }

    /// `updateItems` inside the lock.
    static func update(_ state: inout State, _ updates: [(Digest, ItemUpdate)], at date: Date) {
        for (id, update) in updates {
            guard var item = state.items[id] else { continue }
            var touched = false
            /// A field the update sets when it holds a value (nil: left as it is).
            func set<Value>(_ value: Value?, _ path: WritableKeyPath<ItemRecord, Value>) {
                guard let value else { return }
                item[keyPath: path] = value
                touched = true
            }
            /// The same for a field that may be empty: an update never empties it (except `error`, below).
            func fill<Value>(_ value: Value?, _ path: WritableKeyPath<ItemRecord, Value?>) {
                guard let value else { return }
                item[keyPath: path] = value
                touched = true
            }
            fill(update.fingerprints, \.fingerprints)
            set(update.status, \.status)
            fill(update.rawPath, \.rawPath)
            fill(update.croppedName, \.croppedName)
            fill(update.croppedDigest, \.croppedDigest)
            fill(update.vault, \.vault)
            fill(update.category, \.category)
            set(update.tags, \.tags)
            fill(update.description, \.description)
            fill(update.priceCents, \.priceCents)
            set(update.flags, \.flags)
            set(update.error, \.error)  // String??: .some(nil) clears it
            // As the database: a change of anything stamps the row.
            if touched { item.updatedAt = date }
            state.items[id] = item
        }
    }

    package func rowFields(drop: String, items ids: [Digest]) async throws -> [Digest: ItemRowFields] {
        let wanted = Set(ids)
        state.withLock { $0.rowFieldReads += ids.count }
        return Dictionary(
            uniqueKeysWithValues: try await items(drop: drop).filter { wanted.contains($0.id) }.map { ($0.id, ItemRowFields($0)) })
    }

    package func items(drop: String?) async throws -> [ItemRecord] {
        state.withLock { state in
            guard let drop else {
                return state.items.values.sorted { ($0.drop, $0.originalName) < ($1.drop, $1.originalName) }
            }
            let members = state.members[drop] ?? [:]
            return state.items.values.filter { members[$0.id] != nil }.sorted { $0.originalName < $1.originalName }
        }
    }

    package func item(idPrefix: String) async throws -> [ItemRecord] {
        let prefix = idPrefix.lowercased()
        guard !prefix.isEmpty, prefix.allSatisfy(\.isHexDigit) else { return [] }
        return state.withLock { Array($0.items.values.filter { $0.id.hex.hasPrefix(prefix) }.prefix(5)) }
    }

    package func items(named name: String) async throws -> [ItemRecord] {
        state.withLock { state in
            let reviewed = Set(state.reviews.values.filter { $0.fileName == name }.map(\.itemID))
            let found = state.items.values.filter { $0.originalName == name || $0.croppedName == name || reviewed.contains($0.id) }
            return Array(found.sorted { ($0.drop, $0.originalName) < ($1.drop, $1.originalName) }.prefix(20))
        }
    }

    package func fingerprints(items ids: [Digest]?) async throws -> [Digest: ItemFingerprints] {
        state.withLock { state in
            let chosen = ids.map { $0.compactMap { state.items[$0] } } ?? Array(state.items.values)
            return Dictionary(chosen.compactMap { item in item.fingerprints.map { (item.id, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// How many times the library's decided pictures were read: a read of every approved or published item.
    package var decidedReads: Int { state.withLock { $0.decidedReads } }

    package func decidedStructures() async throws -> [DecidedStructure] {
        state.withLock { state in
            state.decidedReads += 1
            return Self.decided(state.items.values).map { DecidedStructure(id: $0.id, prints: $0.prints) }
        }
    }

    package func decidedPictures(_ ids: [Digest]) async throws -> [DecidedPicture] {
        state.withLock { state in Self.decided(ids.compactMap { state.items[$0] }) }
    }

    /// The version is worked out from the decided pictures themselves (what the database's triggers count changes
    /// of): equal while they are, within this process.
    package func lookalikeState(drop: String) async throws -> LookalikeState {
        state.withLock { state in
            let decided = Self.decided(state.items.values).sorted { $0.id < $1.id }
            var hasher = Hasher()
            hasher.combine(decided)
            return LookalikeState(
                version: Int64(hasher.finalize()), anyDecided: !decided.isEmpty, last: state.lookalikeChecks[drop])
        }
    }

    package func saveLookalikeCheck(_ check: LookalikeCheck) async throws {
        state.withLock { $0.lookalikeChecks[check.drop] = check }
    }

    /// How many items' rows were read for comparison with a run.
    package var rowFieldReads: Int { state.withLock { $0.rowFieldReads } }

    /// The version counts the changes to what a run compares (every row's fields, every drop's members) seen between
    /// two asks, as the database's triggers count every change of it.
    package func itemRowState(drop: String) async throws -> ItemRowState {
        state.withLock { state in ItemRowState(version: Self.itemRowsVersion(&state), last: state.itemRowChecks[drop]) }
    }

    package func saveItemRowCheck(_ check: ItemRowCheck) async throws -> Bool {
        state.withLock { state in
            guard Self.itemRowsVersion(&state) == check.rowsVersion else { return false }
            state.itemRowChecks[check.drop] = check
            return true
        }
    }

    private static func itemRowsVersion(_ state: inout State) -> Int64 {
        var hasher = Hasher()
        for item in state.items.values.sorted(by: { $0.id < $1.id }) {
            hasher.combine(item.id)
            hasher.combine(ItemRowFields(item))
        }
        for drop in state.members.keys.sorted() {
            hasher.combine(drop)
            hasher.combine(state.members[drop]?.keys.sorted())
        }
        let seen = hasher.finalize()
        if seen != state.itemRowsSeen {
            if state.itemRowsSeen != nil { state.itemRowsVersion += 1 }
            state.itemRowsSeen = seen
        }
        return state.itemRowsVersion
    }

    private static func decided(_ items: some Sequence<ItemRecord>) -> [DecidedPicture] {
        items.filter { $0.status == .approved || $0.status == .published }.compactMap { item in
            item.fingerprints.map { DecidedPicture(id: item.id, name: item.originalName, drop: item.drop, status: item.status, prints: $0) }
        }
    }

    package func items(_ ids: [Digest], ownedByOtherThan drop: String) async throws -> [ItemRecord] {
        state.withLock { state in ids.compactMap { state.items[$0] }.filter { $0.drop != drop } }
    }

    package func statusCounts() async throws -> [DropStatusCount] {
        let counts = state.withLock { state in
            Dictionary(grouping: state.items.values, by: { DropStatusCount(drop: $0.drop, status: $0.status, count: 0) })
                .map { DropStatusCount(drop: $0.key.drop, status: $0.key.status, count: $0.value.count) }
        }
        return counts.sorted { ($0.drop, $0.status.rawValue) < ($1.drop, $1.status.rawValue) }
    }

    package func dropNames() async throws -> [String] {
        state.withLock { Set($0.drops.keys).union($0.members.keys).sorted() }
    }

    package func dropManifest(_ drop: String) async throws -> String? { state.withLock { $0.drops[drop] } }

    package func recordDropRun(_ drop: String, manifest: String, at: Date) async throws {
        state.withLock { $0.drops[drop] = manifest }
    }

    // MARK: Reviews and what a person set in review

    package func reviews(drop: String) async throws -> [ReviewRecord] {
        state.withLock { $0.reviews.values.filter { $0.drop == drop } }
    }

    package func saveReviews(_ reviews: [ReviewRecord]) async throws {
        state.withLock { state in
            for review in reviews { state.reviews[ReviewKey(item: review.itemID, crop: review.cropDigest)] = review }
        }
    }

    package func recordReviews(
        _ reviews: [ReviewRecord], items: [(Digest, ItemUpdate)], events: [EventRecord], at date: Date
    ) async throws {
        try state.withLock { state in
            try Self.requireItems(reviews.map(\.itemID), in: state, table: "reviews")
            for review in reviews { state.reviews[ReviewKey(item: review.itemID, crop: review.cropDigest)] = review }
            Self.update(&state, items, at: date)
            state.events += events
        }
        if let pause = afterRecordingReviews.withLock({ $0 }) { await pause() }
    }

    package func setReviewFolder(itemID: Digest, cropDigest: Digest, folder: ReviewFolder) async throws {
        state.withLock { $0.reviews[ReviewKey(item: itemID, crop: cropDigest)]?.folder = folder }
    }

    package func lineOverrides(items: [Digest]) async throws -> [Digest: Double] {
        state.withLock { state in Dictionary(uniqueKeysWithValues: Set(items).compactMap { id in state.lines[id].map { (id, $0) } }) }
    }

    package func setLineOverride(itemID: Digest, fraction: Double?, by: String, at: Date) async throws {
        state.withLock { $0.lines[itemID] = fraction }
    }

    package func publishOverrides(items: [Digest]) async throws -> [Digest: PublishOverride] {
        state.withLock { state in
            Dictionary(uniqueKeysWithValues: Set(items).compactMap { id in state.publishOverrides[id].map { (id, $0) } })
        }
    }

    package func setPublishOverride(itemID: Digest, _ override: PublishOverride, by: String, at: Date) async throws {
        state.withLock { $0.publishOverrides[itemID] = override.isEmpty ? nil : override }
    }

    // MARK: Publications

    package func publication(target: String, destination: String, digest: Digest) async throws -> PublicationRecord? {
        state.withLock { $0.publications[PublicationKey(target: target, destination: destination, digest: digest)] }
    }

    package func savePublication(_ publication: PublicationRecord) async throws -> Bool {
        let key = PublicationKey(target: publication.target, destination: publication.destination, digest: publication.contentDigest)
        return state.withLock { state in
            // The first publication stands; a later one only refreshes its metadata.
            guard state.publications[key] == nil else {
                state.publications[key]?.metadata = publication.metadata
                return false
            }
            state.publications[key] = publication
            return true
        }
    }

    // MARK: Events

    package func append(_ events: [EventRecord]) async throws { state.withLock { $0.events += events } }

    package func events(drop: String?, limit: Int) async throws -> [EventRecord] {
        state.withLock { state in Array(state.events.filter { drop == nil || $0.drop == drop }.suffix(limit)) }
    }
}
