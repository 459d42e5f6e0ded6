public import Foundation

/// An `elena-run` process started in the background, so a test can kill it at a moment of its choosing.
/// Its output goes to a log file (a pipe nobody reads could block the process).
public final class RunningCommand: @unchecked Sendable {
    // Safe: `process` is only touched through Foundation's thread-safe Process API.
    private let process: Process
    /// Where standard output and standard error go.
    public let logPath: String

    init(process: Process, logPath: String) {
        self.process = process
        self.logPath = logPath
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { process.isRunning }

    /// Sends SIGKILL: no handler runs, nothing is flushed, as when the machine loses power mid-run.
    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the process to end and returns its exit code (or the signal number, for a killed process).
    @discardableResult
    public func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Whether the process ended by a signal rather than by exiting.
    public var wasKilled: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }

    /// Everything it printed so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

extension CommandLineRunner {
    /// Starts `elena-run arguments…` in the background, its output appended to `logPath`.
    public func start(_ arguments: [String], logPath: String) throws -> RunningCommand {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "ELENA_LIBRARY", "ELENA_CONFIG_DIR"] { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()
        return RunningCommand(process: process, logPath: logPath)
    }
}
