import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C (SIGINT) and SIGTERM for work that must clean up before the process ends.
///
/// The first `hold` routes both signals through dispatch sources for the rest of the process: while some handler
/// is held, a signal calls the handlers; while none is, it has its default effect (the process ends by it). The
/// signals' dispositions are set once and never back: libdispatch installs its own handler for a signal when the
/// first source for it is made, and setting the disposition back to the default afterwards silently broke every
/// later source for that signal (the review server, after a drop run on the page, died on SIGTERM instead of
/// stopping, or ignored it).
enum Interrupts {
    private struct State {
        var sources: [any DispatchSourceSignal] = []
        var handlers: [Int: @Sendable () -> Void] = [:]
        var next = 0
        /// Signals delivered while handlers were held; a second one ends the process (the handlers had their chance).
        var signalled = 0
    }

    private static let state = Mutex(State())

    /// Registers `handler` for SIGINT and SIGTERM until the matching `release`; the signals end the process only
    /// once nothing is held. A server with handlers of its own holds an empty one.
    /// - Returns: the token for `release`.
    @discardableResult
    static func hold(_ handler: @escaping @Sendable () -> Void = {}) -> Int {
        state.withLock { state in
            if state.sources.isEmpty {
                for number in [SIGINT, SIGTERM] {
                    signal(number, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                    source.setEventHandler { deliver(number) }
                    source.resume()
                    state.sources.append(source)
                }
            }
            state.next += 1
            state.handlers[state.next] = handler
            return state.next
        }
    }

    /// Removes a handler `hold` registered.
    static func release(_ token: Int) {
        state.withLock { state in
            state.handlers.removeValue(forKey: token)
            if state.handlers.isEmpty { state.signalled = 0 }
        }
    }

    /// A signal arrived: the held handlers run, or, with none (or when a held handler already had one signal and
    /// did not finish), the process ends by the signal, after one line saying so.
    ///
    /// The signal is sent again with `kill` to the process, not `raise`d: this runs on a dispatch worker thread, and
    /// libdispatch blocks every signal in its workers, so a raised signal stayed pending on that thread forever and
    /// a run that was waiting on something (a database that went away) ignored SIGTERM.
    private static func deliver(_ number: Int32) {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            state.signalled += 1
            return state.signalled > 1 ? [] : Array(state.handlers.values)
        }
        guard !handlers.isEmpty else {
            let name = number == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM"
            let line = "elena-run: stopped by \(name); every finished step is saved, run the same command again to go on\n"
            fflush(nil)  // every output stream: what the run printed so far is not lost
            _ = line.withCString { write(2, $0, strlen($0)) }
            signal(number, SIG_DFL)
            kill(getpid(), number)
            return
        }
        for handler in handlers { handler() }
    }

    /// Runs `work` so that SIGINT (Ctrl-C) or SIGTERM cancels it instead of killing the process; the work sees
    /// the cancellation and cleans up (generation cancels the prompts it queued). Outside `work` the signals keep
    /// their default effect.
    static func cancelling<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await work() }
        let token = hold { task.cancel() }
        defer { release(token) }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}
