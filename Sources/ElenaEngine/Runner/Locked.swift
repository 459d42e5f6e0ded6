import Foundation

/// A lock around a value. (A plain lock, usable on every platform the package builds for.)
package final class Locked<Value>: @unchecked Sendable {
    // Safe: every access to `value` happens inside `lock`.
    private var value: Value
    private let lock = NSLock()

    /// Wraps a value.
    package init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access.
    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
