import ElenaCore
import Foundation

/// Runs the built `elena-run` binary as a user would, capturing its output and exit code.
package struct CommandLineRunner: Sendable {
    /// What a command did.
    package struct Result: Sendable, CustomStringConvertible {
        package var exitCode: Int32
        package var standardOutput: String
        package var standardError: String

        /// Everything, for failure messages.
        package var description: String {
            "exit \(exitCode)\n--- stdout\n\(standardOutput)\n--- stderr\n\(standardError)"
        }
    }

    /// The binary.
    package var executable: String
    /// Extra environment (added to a clean copy of the current one without DATABASE_URL/ELENA_LIBRARY).
    package var environment: [String: String]
    /// Working directory.
    package var workingDirectory: String

    /// Finds the `elena-run` binary built next to the tests (or `ELENA_RUN_BINARY`).
    package static func locateBinary(file: String = #filePath) -> String {
        if let override = ProcessInfo.processInfo.environment["ELENA_RUN_BINARY"] { return override }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("elena-run").path,
            URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
                .appendingPathComponent("elena-run").path,
            repositoryRoot(file: file) + "/.build/debug/elena-run",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[2]
    }

    /// The repository's root folder.
    package static func repositoryRoot(file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }

    /// Creates a runner.
    package init(executable: String = CommandLineRunner.locateBinary(), environment: [String: String] = [:], workingDirectory: String) {
        self.executable = executable
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Runs `elena-run arguments…` to completion. The waiting happens on Dispatch threads, never on Swift's
    /// cooperative pool: a test blocked on a child process must not starve the other tests running beside it.
    package func run(_ arguments: [String]) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory)
        process.environment = childEnvironment
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let outData = Locked(Data())
        let errData = Locked(Data())
        let group = DispatchGroup()
        return try await withCheckedThrowingContinuation { continuation in
            group.enter()  // the process
            process.terminationHandler = { _ in group.leave() }
            do {
                try ProcessSpawning.start(process)
            } catch {
                continuation.resume(throwing: error)
                return
            }
            group.enter()
            DispatchQueue.global().async {
                let read = output.fileHandleForReading.readDataToEndOfFile()
                outData.withLock { $0 = read }
                group.leave()
            }
            group.enter()
            DispatchQueue.global().async {
                let read = error.fileHandleForReading.readDataToEndOfFile()
                errData.withLock { $0 = read }
                group.leave()
            }
            group.notify(queue: .global()) {
                continuation.resume(
                    returning: Result(
                        exitCode: process.terminationStatus,
                        standardOutput: String(decoding: outData.withLock { $0 }, as: UTF8.self),
                        standardError: String(decoding: errData.withLock { $0 }, as: UTF8.self)))
            }
        }
    }

    /// The child's environment: the current one without DATABASE_URL/ELENA_LIBRARY/ELENA_CONFIG_DIR, plus ours.
    var childEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "ELENA_LIBRARY", "ELENA_CONFIG_DIR"] { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        return env
    }
}
