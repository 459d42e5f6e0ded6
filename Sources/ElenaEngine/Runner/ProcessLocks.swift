import ElenaCore

/// Locks that exclude only within this process (tests that run stages in process; a single runner).
package actor ProcessLocks: WorkLocks {
    private var held: Set<String> = []
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Creates an empty lock table.
    package init() {}

    private func acquire(_ key: String) async {
        while held.contains(key) {
            await withCheckedContinuation { continuation in waiting[key, default: []].append(continuation) }
        }
        held.insert(key)
    }

    private func release(_ key: String) {
        held.remove(key)
        let next = waiting[key] ?? []
        waiting[key] = nil
        for continuation in next { continuation.resume() }
    }

    package func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(key)
        do {
            let value = try await body()
            release(key)
            return value
        } catch {
            release(key)
            throw error
        }
    }
}
