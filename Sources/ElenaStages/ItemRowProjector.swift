import ElenaCore
import ElenaEngine
import Foundation

/// Brings the item rows in line with a run a part of the items at a time, as the runner settles each part: the
/// rows of a part are read, compared and written while the runner settles the next ones (on the other core, and on
/// the store's threads), instead of all of them after the run. The parts are taken in the order they come, one after
/// the other; after a part that failed, none is written. The flags of items waiting for review are settled at the
/// end (`ItemProjection.flagUpdates`), once the lookalikes among them are known.
///
/// A part the drop's last comparison found in line, while the rows' version (which the database keeps) is the one
/// that comparison was made at, is in line again if it projects the same: its rows are not read (100,000 of them in a
/// big drop's no-op rerun). What each part found is handed back by `finish`, for the session to keep once it knows the
/// run changed no row.
final class ItemRowProjector: Sendable {
    private let store: any LibraryLedger
    private let drop: String
    private let plan: DropPlan
    private let now: @Sendable () -> Date
    /// The parts the drop's last comparison found in line, when the rows are still as it found them.
    private let inLine: [Digest: [Digest: [String]]]
    /// The rows' version read before the run: what the parts found in line are kept with.
    let rowsVersion: Int64

    /// How many parts may wait for their rows at once before the runner is held back: each holds a copy of its
    /// nodes' states (about 1 MB a part of 1,500 items), and the runner settles a 100,000-item drop's parts faster
    /// than their rows are read and compared (a dozen piled up, 12 MB at the run's peak). At least 2: the newest
    /// part's work stays among those kept, and with it the chain a failure travels along.
    static let backlog = 3

    private struct State {
        /// The parts' work not yet known to be finished, oldest first (at most `backlog`); each part waits for the
        /// one before it, so the last holds the chain.
        var recent: [Task<Void, any Error>] = []
        var changed = 0
        /// The waiting items' flags, by item index (an item handed on again replaces its entry).
        var waiting: [ItemProjection.WaitingFlags?]
        /// The parts found in line in this run (`ItemRowCheck.parts`).
        var found: [Digest: [Digest: [String]]] = [:]
    }
    private let state: Locked<State>

    /// - Parameter rows: the item rows as the run found them before it began (their version, and the drop's last
    ///   comparison).
    init(
        store: any LibraryLedger, drop: String, plan: DropPlan, rows: ItemRowState, now: @escaping @Sendable () -> Date
    ) {
        self.store = store
        self.drop = drop
        self.plan = plan
        self.now = now
        self.rowsVersion = rows.version
        self.inLine = rows.last.flatMap { $0.rowsVersion == rows.version ? $0.parts : nil } ?? [:]
        self.state = Locked(State(waiting: Array(repeating: nil, count: plan.items.count)))
    }

    /// Takes a settled part (the runner's `settled`): its rows are brought in line after the parts before it. Returns
    /// once fewer than `backlog` parts are waiting (an error is kept in the chain for `finish`).
    func add(_ part: SettledItems) async {
        let oldest = state.withLock { state in state.recent.count >= Self.backlog ? state.recent.removeFirst() : nil }
        _ = try? await oldest?.value
        state.withLock { state in
            let previous = state.recent.last
            state.recent.append(
                Task {
                    try await previous?.value
                    try await self.project(part)
                })
        }
    }

    private func project(_ part: SettledItems) async throws {
        let projected = ItemProjection.projected(plan, states: part, items: part.items)
        let digest = ItemProjection.digest(plan, projected)
        let updates: [(Digest, ItemUpdate)]
        let waiting: [ItemProjection.WaitingFlags]
        /// The flags of the part's waiting items whose rows hold others (nil: the part is not known to be in line).
        var found: [Digest: [String]]?
        if let stored = inLine[digest] {
            // The rows are as the last comparison found them, and it found these projections in line.
            updates = []
            // Their rows hold the flags the run gives them, but for those the comparison noted.
            waiting = projected.compactMap { entry in
                let id = plan.items[entry.index].id
                return entry.waitingFlags(id: id, stored: stored[id] ?? entry.fields.flags)
            }
            found = stored
        } else {
            let rows = try await store.rowFields(drop: drop, items: projected.map { plan.items[$0.index].id })
            (updates, waiting) = ItemProjection.updates(plan, projected, rows: rows)
            if updates.isEmpty, rows.count == projected.count {
                var differing: [Digest: [String]] = [:]
                for entry in waiting where entry.stored != entry.flags { differing[entry.id] = entry.stored }
                found = differing
            }
            if !updates.isEmpty { try await store.updateItems(updates, at: now()) }
        }
        state.withLock { state in
            state.changed += updates.count
            for index in part.items { state.waiting[index] = nil }
            for entry in waiting { state.waiting[entry.item] = entry }
            if let found { state.found[digest] = found }
        }
    }

    /// What `finish` hands back.
    struct Outcome {
        /// How many rows were changed.
        var changed: Int
        /// The waiting items' flags, in plan order.
        var waiting: [ItemProjection.WaitingFlags]
        /// The parts found in line (`ItemRowCheck.parts`): worth keeping only if the run changed no row.
        var found: [Digest: [Digest: [String]]]
        /// Whether `found` is what the last comparison kept, and the rows are as it found them: keeping it again
        /// would change nothing.
        var asKept: Bool
    }

    /// Waits for every part taken.
    /// - Throws: the first part's error that stopped the rest.
    func finish() async throws -> Outcome {
        try await state.withLock { $0.recent.last }?.value
        return state.withLock { state in
            Outcome(
                changed: state.changed, waiting: state.waiting.compactMap { $0 }, found: state.found,
                asKept: !inLine.isEmpty && state.found == inLine)
        }
    }
}
