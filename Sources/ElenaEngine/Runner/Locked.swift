import Foundation

/// A lock around a value. (A plain lock, usable on every platform the package builds for.)
public final class Locked<Value>: @unchecked Sendable {
    // Safe: every access to `value` happens inside `lock`.
    private var value: Value
    private let lock = NSLock()

    /// Wraps a value.
    public init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
