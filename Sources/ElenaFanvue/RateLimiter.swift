import Foundation

/// Paces requests by what the server says: `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds of the
/// next refill), so a normal run never meets a 429; after a 429 everyone waits for `Retry-After`.
actor RateLimiter {
    private var remaining: Int?
    private var resetAt: Date?
    private var pausedUntil: Date?
    /// Requests kept in reserve so parallel work does not overrun the bucket.
    let reserve = 2

    /// Waits until a request may go out, and counts it against the known budget.
    func acquire() async {
        while true {
            let now = Date()
            if let pausedUntil, pausedUntil > now {
                try? await Task.sleep(for: .milliseconds(Int(pausedUntil.timeIntervalSince(now) * 1000) + 10))
                continue
            }
            if let remaining, remaining <= reserve, let resetAt, resetAt > now {
                try? await Task.sleep(for: .milliseconds(Int(resetAt.timeIntervalSince(now) * 1000) + 50))
                self.remaining = nil
                continue
            }
            if let remaining { self.remaining = remaining - 1 }
            return
        }
    }

    /// Learns the budget from a response's headers.
    func update(remaining: Int?, reset: Double?) {
        if let remaining { self.remaining = remaining }
        if let reset { resetAt = Date(timeIntervalSince1970: reset) }
    }

    /// After a 429: nobody sends until `until`.
    func pause(until: Date) {
        if let current = pausedUntil, current >= until { return }
        pausedUntil = until
    }
}

/// Counts requests, for `make bench` and the run summary.
package actor RequestCounter {
    /// Calls to the Fanvue API (including retries).
    package private(set) var api = 0
    /// Part uploads to storage.
    package private(set) var storage = 0
    /// Answers 429.
    package private(set) var rateLimited = 0
    /// Retries of any kind.
    package private(set) var retries = 0

    func count(storage isStorage: Bool) {
        if isStorage { storage += 1 } else { api += 1 }
    }

    func countRateLimited() { rateLimited += 1 }
    func countRetry() { retries += 1 }
}
