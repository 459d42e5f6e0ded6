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

    /// The same runner with its image library (libElenaOpenCV.so, OpenCV) looked for where there is none: a command
    /// that needs an image fails with the loader's line, one that reads none runs as it would.
    package var withoutImageLibrary: CommandLineRunner {
        var runner = self
        runner.environment["ELENA_IMAGE_LIBRARY"] = "/nonexistent/elena-run/libElenaOpenCV.so"
        return runner
    }

    /// Runs `elena-run arguments…` to completion: started with posix_spawn (Foundation's `Process.run()` on Linux
    /// reads past the end of a directory entry when it lists /proc/self/fd, and crashed the test process now and
    /// then: swiftlang/swift-corelibs-foundation#5472), its output through files, waited for without blocking a
    /// thread of Swift's cooperative pool.
    package func run(_ arguments: [String]) async throws -> Result {
        let folder = NSTemporaryDirectory() + "elena-command-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pid = try Subprocess.start(
            executable, arguments, environment: childEnvironment, replacingEnvironment: true, directory: workingDirectory,
            output: folder + "/out", error: folder + "/err")
        let status = await Subprocess.wait(pid)
        func read(_ name: String) -> String {
            (try? Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return Result(exitCode: status, standardOutput: read("out"), standardError: read("err"))
    }

    /// The child's environment: the current one without DATABASE_URL/ELENA_LIBRARY/ELENA_CONFIG_DIR, plus ours.
    var childEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["DATABASE_URL", "ELENA_LIBRARY", "ELENA_CONFIG_DIR"] { env[key] = nil }
        for (key, value) in environment { env[key] = value }
        return env
    }
}
