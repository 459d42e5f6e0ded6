import ElenaCore
import ElenaEngine
import Foundation

/// Brings the item rows in line with a run a part of the items at a time, as the runner settles each part: the
/// rows of a part are read, compared and written while the runner settles the next ones (on the other core, and on
/// the store's threads), instead of all of them after the run. The parts are taken in the order they come, one after
/// the other; after a part that failed, none is written. The flags of items waiting for review are settled at the
/// end (`ItemProjection.flagUpdates`), once the lookalikes among them are known.
final class ItemRowProjector: Sendable {
    private let store: any LibraryLedger
    private let drop: String
    private let plan: DropPlan
    private let now: @Sendable () -> Date

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
    }
    private let state: Locked<State>

    init(store: any LibraryLedger, drop: String, plan: DropPlan, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.drop = drop
        self.plan = plan
        self.now = now
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
        let rows = try await store.rowFields(drop: drop, items: plan.items[part.items].map(\.id))
        let (updates, waiting) = ItemProjection.updates(plan, states: part, items: part.items, rows: rows)
        if !updates.isEmpty { try await store.updateItems(updates, at: now()) }
        state.withLock { state in
            state.changed += updates.count
            for index in part.items { state.waiting[index] = nil }
            for entry in waiting { state.waiting[entry.item] = entry }
        }
    }

    /// Waits for every part taken; the rows changed and the waiting items' flags in plan order.
    /// - Throws: the first part's error that stopped the rest.
    func finish() async throws -> (changed: Int, waiting: [ItemProjection.WaitingFlags]) {
        try await state.withLock { $0.recent.last }?.value
        return state.withLock { state in (state.changed, state.waiting.compactMap { $0 }) }
    }
}
