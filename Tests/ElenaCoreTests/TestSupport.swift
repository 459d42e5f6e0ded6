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

/// A small deterministic random generator (SplitMix64), so property-style tests give the same cases on every run.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A manifest written as lines, so tests can state line numbers plainly.
func yaml(_ lines: String...) -> String { lines.joined(separator: "\n") + "\n" }
