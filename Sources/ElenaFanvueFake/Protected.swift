import Foundation

/// A value behind a lock: the fake's whole state lives in one of these, so every request handler and every test
/// accessor sees a consistent snapshot.
final class Protected<Value>: @unchecked Sendable {
    // Safe: `value` is private and only ever touched inside `lock`, and `withLock` never lets a reference to it
    // escape (the body gets `inout` access for the duration of the call only).
    private var value: Value
    private let lock = NSLock()

    /// Wraps a value.
    init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access.
    func withLock<R, Failure: Error>(_ body: (inout Value) throws(Failure) -> R) throws(Failure) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
