import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C handling for work that must clean up before the process ends.
enum Interrupts {
    /// How many callers want SIGINT and SIGTERM delivered to them rather than ending the process.
    private static let holders = Mutex(0)

    /// Makes SIGINT and SIGTERM deliverable to dispatch sources, until the matching `release`.
    static func hold() {
        holders.withLock { count in
            if count == 0 {
                signal(SIGINT, SIG_IGN)
                signal(SIGTERM, SIG_IGN)
            }
            count += 1
        }
    }

    /// Gives the signals back their default effect once nobody holds them.
    static func release() {
        holders.withLock { count in
            count -= 1
            if count == 0 {
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
        }
    }

    /// Calls `handler` on SIGINT or SIGTERM while the returned sources live (cancel them, then `release()`).
    static func observe(_ handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        hold()
        return [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// Runs `work` so that SIGINT (Ctrl-C) or SIGTERM cancels it instead of killing the process; the work sees
    /// the cancellation and cleans up (generation cancels the prompts it queued). Outside `work` the signals keep
    /// their default effect.
    static func cancelling<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await work() }
        let sources = observe { task.cancel() }
        defer {
            for source in sources { source.cancel() }
            release()
        }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}
