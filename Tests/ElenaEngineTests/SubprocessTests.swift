import ElenaTestKit
import Foundation
import Testing

/// The helper that starts the binary in tests and benchmarks.
@Suite struct SubprocessTests {
    /// A program named by a path relative to this process's directory, started in another directory, is the
    /// program named (`make bench` starts `.build/release/elena-run` in a temporary folder: it could not be found).
    @Test func aRelativeProgramIsFoundFromHereWhateverTheChildsDirectory() async throws {
        let folder = NSTemporaryDirectory() + "elena-spawn-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let here = FileManager.default.currentDirectoryPath
        // Deeper than here, so the same relative path from there names nothing.
        let elsewhere = folder + "/" + Array(repeating: "d", count: here.split(separator: "/").count + 2).joined(separator: "/")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let script = folder + "/where.sh"
        try "#!/bin/sh\npwd\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let relative = String(repeating: "../", count: here.split(separator: "/").count) + String(script.dropFirst())

        let pid = try Subprocess.start(relative, [], directory: elsewhere, output: folder + "/out")
        #expect(await Subprocess.wait(pid) == 0)
        let printed = try String(contentsOfFile: folder + "/out", encoding: .utf8)
        #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines) == elsewhere)
    }
}
