package import Foundation
import Synchronization

/// The time a fake server lives in: the wall clock, or a manual clock a test moves forward, so a test of token
/// expiry, a rate window or media readiness does not wait for time to pass. Every `Date()` and every pause of
/// the fakes goes through here.
package final class FakeTime: Sendable {
    private let manual: Mutex<Date>?

    private init(manual: Date?) { self.manual = manual.map { Mutex($0) } }

    /// The wall clock; pauses really wait.
    package static let system = FakeTime(manual: nil)

    /// A clock that stands still until `advance(by:)`; a pause moves it forward instead of waiting.
    package static func manual(at start: Date = Date(timeIntervalSince1970: 1_780_000_000)) -> FakeTime {
        FakeTime(manual: start)
    }

    /// Now.
    package var now: Date { manual?.withLock { $0 } ?? Date() }

    /// Moves a manual clock forward (the wall clock cannot be moved: a no-op).
    package func advance(by seconds: TimeInterval) { manual?.withLock { $0 = $0.addingTimeInterval(seconds) } }

    /// A pause of `seconds`: a real wait on the wall clock, a step forward on a manual one.
    package func pause(_ seconds: TimeInterval) async {
        guard seconds > 0 else { return }
        if manual != nil {
            advance(by: seconds)
            await Task.yield()
        } else {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
        }
    }
}
