import ElenaCore
import Foundation
import Testing

/// Files next to the tests, found from this file's own path (the tests never depend on the working directory).
enum TestFiles {
    /// `Tests/ElenaCoreTests`.
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// The package root (the folder holding `Package.swift`).
    static let packageRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()

    /// A fixture's bytes from `Tests/ElenaCoreTests/Fixtures/`.
    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: testsFolder.appendingPathComponent("Fixtures").appendingPathComponent(name))
    }

    /// A file's bytes, by its path from the package root.
    static func repositoryFile(_ path: String) throws -> Data {
        try Data(contentsOf: packageRoot.appendingPathComponent(path))
    }
}

/// A manifest written as lines, so tests can state line numbers plainly.
func yaml(_ lines: String...) -> String { lines.joined(separator: "\n") + "\n" }
