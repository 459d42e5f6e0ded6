import ElenaCore
package import Foundation
import Glibc

/// An `elena-run` process started in the background, so a test can kill it at a moment of its choosing.
/// Its output goes to a log file (a pipe nobody reads could block the process).
package final class RunningCommand: @unchecked Sendable {
    // Unchecked only for `process`, touched through Foundation's thread-safe Process API alone.
    private let process: Process
    /// The exit status once known, and who waits for it.
    private let state = Locked<(exit: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))
    /// Where standard output and standard error go.
    package let logPath: String

    init(process: Process, logPath: String) {
        self.process = process
        self.logPath = logPath
    }

    /// Called by the process's termination handler.
    func exited(_ status: Int32) {
        let waiting = state.withLock { state in
            state.exit = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiting { waiter.resume(returning: status) }
    }

    /// The process id.
    package var pid: Int32 { process.processIdentifier }

    /// Whether the process has not exited yet.
    package var isRunning: Bool {
        state.withLock { $0.exit == nil }
    }

    /// Sends SIGKILL: no handler runs, nothing is flushed, as when the machine loses power mid-run.
    package func kill() {
        if isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Freezes the process (SIGSTOP) until `resume`: a fault made meanwhile lands at exactly this point of its work,
    /// however busy the machine is.
    package func pause() {
        if isRunning { Foundation.kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a paused process go on (SIGCONT).
    package func resume() {
        if isRunning { Foundation.kill(process.processIdentifier, SIGCONT) }
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
        if isRunning { Foundation.kill(process.processIdentifier, SIGTERM) }
    }

    /// Waits for the process to end, at most `seconds`; nil when it still runs then.
    package func wait(atMost seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return isRunning ? nil : await wait()
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    package func interrupt() {
        if isRunning { Foundation.kill(process.processIdentifier, SIGINT) }
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
    package var wasKilled: Bool { !isRunning && process.terminationReason == .uncaughtSignal }

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        process.environment = childEnvironment
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let command = RunningCommand(process: process, logPath: logPath)
        process.terminationHandler = { finished in command.exited(finished.terminationStatus) }
        try ProcessSpawning.start(process)
        try? log.close()
        return command
    }
}

/// Runs `body` on a thread of its own and returns its result. A long CPU-bound loop run on Swift's cooperative pool
/// would hold one of its few threads and starve the tests running beside it; assertions belong to the caller.
package func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux crashed twice in a full local test
/// run (a bad read in its `memcpy` while many tests started processes at once; the same crash in two different
/// tests, never in the code under test): the spawn itself is serialised, the children still run side by side.
package enum ProcessSpawning {
    private static let lock = Locked(())

    /// Runs `process` (throws what `Process.run()` throws).
    package static func start(_ process: Process) throws {
        try lock.withLock { (_: inout Void) throws in try process.run() }
    }
}
