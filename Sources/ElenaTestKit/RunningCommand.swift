import ElenaCore
package import Foundation
import Glibc

/// An `elena-run` process started in the background, so a test can kill it at a moment of its choosing.
/// Its output goes to a log file (a pipe nobody reads could block the process). Started with posix_spawn and reaped
/// by a watcher polling `waitpid` (see `CommandLineRunner.run` for why not Foundation's `Process`).
package final class RunningCommand: Sendable {
    /// The exit status once known (the exit code, or the signal that ended it), whether a signal ended it, and who
    /// waits for it.
    private let state = Locked<(exit: Int32?, signalled: Bool, waiters: [CheckedContinuation<Int32, Never>])>((nil, false, []))
    /// Where standard output and standard error go.
    package let logPath: String
    /// The process id.
    package let pid: Int32

    init(pid: Int32, logPath: String) {
        self.pid = pid
        self.logPath = logPath
        Thread.detachNewThread { [self] in self.reap() }
    }

    /// Waits for the child on a thread of its own (never on Swift's cooperative pool) and records how it ended.
    private func reap() {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, 0)
            if reaped == pid { break }
            if reaped == -1 && errno != EINTR { break }
        }
        let signal = status & 0x7f
        exited(signal == 0 ? (status >> 8) & 0xff : signal, signalled: signal != 0)
    }

    /// Records the exit and wakes who waits.
    func exited(_ status: Int32, signalled: Bool) {
        let waiting = state.withLock { state in
            state.exit = status
            state.signalled = signalled
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiting { waiter.resume(returning: status) }
    }

    /// Whether the process has not exited yet.
    package var isRunning: Bool {
        state.withLock { $0.exit == nil }
    }

    /// Sends SIGKILL: no handler runs, nothing is flushed, as when the machine loses power mid-run.
    package func kill() {
        if isRunning { Glibc.kill(pid, SIGKILL) }
    }

    /// Freezes the process (SIGSTOP) until `resume`: a fault made meanwhile lands at exactly this point of its work,
    /// however busy the machine is.
    package func pause() {
        if isRunning { Glibc.kill(pid, SIGSTOP) }
    }

    /// Lets a paused process go on (SIGCONT).
    package func resume() {
        if isRunning { Glibc.kill(pid, SIGCONT) }
    }

    /// Runs `fault` while the process is paused, and lets it go on afterwards even when `fault` throws (a process
    /// left stopped would outlive the test).
    package func paused<T>(_ fault: () async throws -> T) async rethrows -> T {
        pause()
        do {
            let result = try await fault()
            resume()
            return result
        } catch {
            resume()
            throw error
        }
    }

    /// Sends SIGTERM, as `kill`, a service manager or a container's stop does.
    package func terminate() {
        if isRunning { Glibc.kill(pid, SIGTERM) }
    }

    /// Waits for the process to end, at most `seconds`; nil when it still runs then.
    package func wait(atMost seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return isRunning ? nil : await wait()
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    package func interrupt() {
        if isRunning { Glibc.kill(pid, SIGINT) }
    }

    /// Waits (without blocking a thread) for the process to end; its exit code, or the signal that ended it.
    @discardableResult
    package func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let exit = state.withLock { state -> Int32? in
                if state.exit == nil { state.waiters.append(continuation) }
                return state.exit
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// Whether the process ended by a signal rather than by exiting.
    package var wasKilled: Bool { state.withLock { $0.exit != nil && $0.signalled } }

    /// Everything it printed so far.
    package var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The rest of the first line it printed that starts with `prefix` (waiting up to `timeout` seconds while it
    /// runs), e.g. the URL after "Review page: ".
    package func line(after prefix: String, timeout: TimeInterval = 30) async throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = log.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line.dropFirst(prefix.count)) }
            guard isRunning else { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

extension CommandLineRunner {
    /// Starts `elena-run arguments…` in the background, its output appended to `logPath`.
    package func start(_ arguments: [String], logPath: String) throws -> RunningCommand {
        let pid = try Subprocess.start(
            executable, arguments, environment: childEnvironment, replacingEnvironment: true, directory: workingDirectory,
            output: logPath, error: logPath, append: true)
        return RunningCommand(pid: pid, logPath: logPath)
    }
}

/// Runs `body` on a thread of its own and returns its result. A long CPU-bound loop run on Swift's cooperative pool
/// would hold one of its few threads and starve the tests running beside it; assertions belong to the caller.
package func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

