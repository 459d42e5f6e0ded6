package import ElenaCore
import ElenaEngine
package import Foundation

/// Where review copies were found: file name → folder and library-relative path.
package struct ReviewFolderIndex: Sendable {
    /// A file found: its library-relative path, where its name starts in it, and its folder.
    private struct Entry: Sendable {
        var path: String
        var nameStart: String.Index
        var folder: ReviewFolder
        /// Its place in the scan (folder by folder): which of two files of one name counts.
        var order: Int32

        /// The file's name: the end of its path, sharing the path's text.
        var name: Substring { path[nameStart...] }
    }

    /// One entry per name, sorted by name, found through `slots`: a drop of 100,000 items has as many review copies,
    /// and a dictionary by name kept each name as a string of its own beside its path (25 MB, now 11 MB and 1 MB of
    /// slots).
    private var entries: [Entry] = []
    /// The entries by their name's hash, open-addressed: each slot holds an entry's position plus one (0: empty),
    /// twice as many slots as entries and a power of two. A look-up hashes the name once and mostly compares one
    /// entry; a binary search compared 17 names for each of a 100,000-item drop's crops (4 bytes a slot).
    private var slots: [Int32] = []

    /// An empty index.
    package init() {}

    /// The file of this name: where it is, and its library-relative path.
    package subscript(name: String) -> (folder: ReviewFolder, path: String)? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        // Hashed as a substring, as the entries' names were (equal text hashes alike either way).
        var slot = name[...].hashValue & mask
        while slots[slot] != 0 {
            let position = Int(slots[slot]) - 1
            if entries[position].name == name { return (entries[position].folder, entries[position].path) }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The slots for `entries` (names unique).
    private static func slots(for entries: [Entry]) -> [Int32] {
        guard !entries.isEmpty else { return [] }
        var count = 2
        while count < entries.count * 2 { count <<= 1 }
        var slots = [Int32](repeating: 0, count: count)
        let mask = count - 1
        for position in entries.indices {
            var slot = entries[position].name.hashValue & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(position + 1)
        }
        return slots
    }

    /// How many files.
    package var count: Int { entries.count }

    /// Every file, by name (a table made on each call: for tests and the few files of a small drop).
    package var files: [String: (folder: ReviewFolder, path: String)] {
        Dictionary(uniqueKeysWithValues: entries.map { (String($0.name), ($0.folder, $0.path)) })
    }

    /// Every file's folder and path.
    package var locations: [(folder: ReviewFolder, path: String)] { entries.map { ($0.folder, $0.path) } }

    /// Scans the review folders for one drop: the files each folder holds directly (moved there flat), and its
    /// sub-folders recursively, so files moved into sub-folders count, except the sub-folders of `otherDrops`:
    /// those hold other drops' copies, and a drop's run costs what the drop holds, not what the library holds.
    package static func scan(_ layout: LibraryLayout, drop: String, otherDrops: Set<String>) -> ReviewFolderIndex {
        var found: [Entry] = []
        for folder in ReviewFolder.allCases {
            let files = FileSystem.listFiles(layout.absolute(folder.rawValue)) { relative in
                relative == drop || relative.contains("/") || !otherDrops.contains(relative)
            }
            found.reserveCapacity(found.count + files.count)
            for relativePath in files {
                let path = folder.rawValue + "/" + relativePath
                let nameStart = path.lastIndex(of: "/").map(path.index(after:)) ?? path.startIndex
                found.append(Entry(path: path, nameStart: nameStart, folder: folder, order: Int32(truncatingIfNeeded: found.count)))
            }
        }
        found.sort { $0.name != $1.name ? $0.name < $1.name : $0.order < $1.order }
        // A name found twice (a file present in two folders at once): the first decided one wins over 3_review;
        // of copies only in 3_review, the last found.
        var entries: [Entry] = []
        entries.reserveCapacity(found.count)
        var start = 0
        while start < found.count {
            var end = start + 1
            while end < found.count, found[end].name == found[start].name { end += 1 }
            let group = found[start..<end]
            entries.append(group.first { $0.folder != .review } ?? group[end - 1])
            start = end
        }
        var index = ReviewFolderIndex()
        index.slots = slots(for: entries)
        index.entries = entries
        return index
    }

    /// Scans the review folders for `drop`, leaving out the sub-folders of the other drops the ledger knows.
    package static func scan(_ layout: LibraryLayout, drop: String, catalog: any ItemCatalog) async throws -> ReviewFolderIndex {
        var others = Set(try await catalog.dropNames())
        others.remove(drop)
        return scan(layout, drop: drop, otherDrops: others)
    }
}

/// One crop's review, seen from the database and the folders at once, and what it takes to bring them in step.
/// The review gate (at run time) and the review page (while it is open) share this logic, so a folder move and a
/// click on the page always mean the same thing.
package struct ReviewState: Sendable {
    /// The item.
    package var itemID: Digest
    /// The current crop's digest.
    package var cropDigest: Digest
    /// The drop.
    package var drop: String
    /// The review copy's file name.
    package var fileName: String
    /// The decision after reconciling.
    package var decision: ReviewDecision
    /// Where the copy is now (before any move), if anywhere.
    package var location: (folder: ReviewFolder, path: String)?
    /// The stored record before reconciling.
    package var record: ReviewRecord?
    /// The record to save (a new decision, a first sighting, or a new folder), if any.
    package var save: ReviewRecord?
    /// A copy to create (from nil) or move so the folder matches the decision.
    package var place: (from: String?, to: String)?
    /// Copies of superseded crop versions to delete.
    package var stale: [String]

    /// Nothing to write or move.
    package var isSettled: Bool { save == nil && place == nil && stale.isEmpty }

    /// Where the copy is once the changes are applied.
    package var currentPath: String? { place?.to ?? location?.path }

    /// The folder the copy ends up in.
    package var folder: ReviewFolder { save?.folder ?? record?.folder ?? location?.folder ?? .review }

    /// Compares the database's records with the folders for one crop.
    /// - Parameters:
    ///   - records: every review record of the item (all crop versions).
    ///   - index: the review folders as scanned.
    ///   - decidedBy: who a folder move is attributed to.
    package static func assess(
        itemID: Digest, cropDigest: Digest, drop: String, fileName: String, records: some Collection<ReviewRecord>,
        index: ReviewFolderIndex, layout: LibraryLayout, now: Date
    ) -> ReviewState {
        let record = records.first { $0.cropDigest == cropDigest }
        let location = index[fileName]
        var state = ReviewState(
            itemID: itemID, cropDigest: cropDigest, drop: drop, fileName: fileName,
            decision: record?.decision ?? .pending, location: location, record: record, save: nil, place: nil, stale: [])

        func folder(for decision: ReviewDecision, current: ReviewFolder?) -> ReviewFolder {
            switch decision {
            case .pending: return .review
            case .rejected: return .rejected
            case .approved: return current == .uploaded || record?.folder == .uploaded ? .uploaded : .approved
            }
        }
        func target(_ folder: ReviewFolder) -> String { layout.folder(folder, drop: drop) + "/" + fileName }

        if let location {
            if record == nil || record?.folder != location.folder {
                // A person moved the file (or this is the first time it is seen): the folder is the decision.
                let decision = location.folder.decision
                state.decision = decision
                let decided = decision != .pending
                state.save = ReviewRecord(
                    itemID: itemID, cropDigest: cropDigest, drop: drop, decision: decision, fileName: fileName,
                    folder: location.folder, decidedBy: decided ? "folder" : record?.decidedBy,
                    decidedAt: decided ? now : record?.decidedAt)
            } else if let record, record.decision != location.folder.decision {
                // Decided elsewhere (the review page): move the file to match.
                let destination = folder(for: record.decision, current: location.folder)
                state.place = (location.path, target(destination))
                var moved = record
                moved.folder = destination
                state.save = moved
            }
        } else {
            let destination = folder(for: state.decision, current: nil)
            state.place = (nil, target(destination))
            var placed =
                record
                ?? ReviewRecord(
                    itemID: itemID, cropDigest: cropDigest, drop: drop, decision: .pending, fileName: fileName,
                    folder: .review, decidedBy: nil, decidedAt: nil)
            placed.folder = destination
            if placed != record { state.save = placed }
        }
        for old in records where old.cropDigest != cropDigest {
            if let found = index[old.fileName], found.folder != .uploaded { state.stale.append(found.path) }
        }
        return state
    }

    /// Applies the changes: deletes superseded copies, moves or creates the copy, saves the record, logs the
    /// decision and updates the item's status.
    /// - Parameters:
    ///   - cropPath: library-relative path of the crop (copied when the review copy is missing).
    ///   - itemName: for messages.
    package func apply(cropPath: String, itemName: String, layout: LibraryLayout, store: any ReviewLedger, now: Date) async throws {
        for path in stale { try FileSystem.remove(layout.absolute(path)) }
        if let place {
            if let from = place.from {
                try FileSystem.move(layout.absolute(from), to: layout.absolute(place.to))
            } else {
                try FileSystem.copy(layout.absolute(cropPath), to: layout.absolute(place.to))
            }
        }
        var events: [EventRecord] = []
        if let save, save.decision != record?.decision || record == nil {
            events.append(
                EventRecord(
                    kind: "review.\(save.decision.rawValue)", drop: drop, itemID: itemID, stage: .review,
                    message: "\(itemName): \(save.decision.rawValue) (\(save.decidedBy ?? "queued")) as \(save.fileName)",
                    data: .object(["crop": .string(cropDigest.hex), "folder": .string(save.folder.rawValue)]), at: now))
        }
        if !stale.isEmpty {
            events.append(
                EventRecord(
                    kind: "review.superseded", drop: drop, itemID: itemID, stage: .review,
                    message: "\(itemName): a new crop replaced \(stale.count) older review cop\(stale.count == 1 ? "y" : "ies")",
                    data: .array(stale.map(JSONValue.string)), at: now))
        }
        // A copy put back in place (a crop flipped back to a version already decided) changes the item's status
        // as much as a new decision does.
        var updates: [(Digest, ItemUpdate)] = []
        if save != nil || place != nil {
            let status: ItemStatus =
                switch decision {
                case .pending: .inReview
                case .rejected: .rejected
                case .approved: folder == .uploaded ? .published : .approved
                }
            updates.append((itemID, ItemUpdate(status: status, error: .some(nil))))
        }
        // One transaction: whoever reads the decision reads the item's new status with it.
        guard save != nil || !events.isEmpty || !updates.isEmpty else { return }
        try await store.recordReviews(save.map { [$0] } ?? [], items: updates, events: events, at: now)
    }
}
