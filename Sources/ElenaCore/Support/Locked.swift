import Foundation

/// A value behind a lock, shared by reference: the project's one lock type. Every other type that needs a lock
/// keeps its state in one of these, so `@unchecked Sendable` is written here and nowhere a lock is concerned.
package final class Locked<Value>: @unchecked Sendable {
    // Safe: `value` is private and only touched inside `lock`; `withLock` gives `inout` access for the duration of
    // the call only, so no reference to it escapes.
    private var value: Value
    private let lock = NSLock()

    /// Wraps a value.
    package init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access.
    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
