import ArgumentParser
@testable import ElenaCLI
import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// The README cannot drift from the tool: every command line it shows parses, its manifests are accepted, its
/// sample error is what the tool prints, and its links stay inside the repository. (FirstHourTests runs the
/// command lines that work offline through the binary.)
@Suite struct ReadmeTests {
    static let root = CommandLineRunner.repositoryRoot()
    static func readme() throws -> String { try String(contentsOfFile: root + "/README.md", encoding: .utf8) }

    /// The manifest of the tour (`# pipelines/drop-03.yaml`), which the other YAML blocks are pieces of.
    static func tourManifest() throws -> String {
        try #require(ReadmeText.blocks(try readme()).first { $0.language == "yaml" && $0.text.hasPrefix("# pipelines/drop-03.yaml") }?.text)
    }

    @Test func everyCommandLineParses() throws {
        let commands = ReadmeText.commands(try Self.readme())
        #expect(commands.count >= 8, "\(commands)")
        for command in commands {
            do {
                _ = try ElenaRunCommand.parseAsRoot(Array(command.dropFirst()))
            } catch {
                Issue.record("README: `\(command.joined(separator: " "))` does not parse: \(ElenaRunCommand.message(for: error))")
            }
        }
    }

    /// Each YAML block whose top-level keys are a manifest's replaces those sections of the tour's manifest, and
    /// the result is accepted (the Fanvue example with a post and a message among them).
    @Test func theManifestsShownAreAccepted() throws {
        let tour = try Self.tourManifest()
        _ = try ManifestDecoder.decode(tour, file: "pipelines/drop-03.yaml")
        let manifestKeys: Set<String> = ["source", "crop", "publish", "generate", "persona", "items"]
        var pieces = 0
        for block in ReadmeText.blocks(try Self.readme()) where block.language == "yaml" && block.text != tour {
            let sections = Self.sections(block.text)
            guard !sections.isEmpty, Set(sections.map(\.key)).isSubset(of: manifestKeys) else { continue }
            pieces += 1
            var merged = Self.sections(tour).filter { section in !sections.contains { $0.key == section.key } }
            merged += sections
            let text = merged.map(\.text).joined(separator: "\n")
            do {
                _ = try ManifestDecoder.decode(text, file: "README")
            } catch {
                Issue.record("README: the YAML beginning '\(block.text.prefix(40))…' is refused: \(error)\n\(text)")
            }
        }
        #expect(pieces >= 3, "the generate, persona and Fanvue pieces")
    }

    /// Top-level sections of a YAML text: each top-level key with its lines.
    static func sections(_ text: String) -> [(key: String, text: String)] {
        var sections: [(key: String, text: String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let isTop = line.first.map { $0.isLetter } ?? false
            if isTop, let colon = line.firstIndex(of: ":") {
                sections.append((String(line[..<colon]), String(line)))
            } else if !sections.isEmpty {
                sections[sections.count - 1].text += "\n" + line
            }
        }
        return sections
    }

    /// The README's sample error is the tour's manifest with `strategy` misspelt, as the tool prints it.
    @Test func theSampleErrorIsWhatTheToolPrints() throws {
        let readme = try Self.readme()
        let sample = try #require(ReadmeText.blocks(readme).first { $0.text.contains("error: unknown key 'stratgy'") })
        let broken = try Self.tourManifest().replacingOccurrences(of: "  strategy:", with: "  stratgy:")
        let error = try #require(throws: ManifestError.self) {
            try ManifestDecoder.decode(broken, file: "pipelines/drop-03.yaml")
        }
        #expect(error.description == sample.text.trimmingCharacters(in: .newlines), "the tool prints:\n\(error.description)")
    }

    /// Links point at files of the repository, never outside it (a user has only the repository).
    @Test func linksStayInTheRepository() throws {
        let links = ReadmeText.links(try Self.readme())
        #expect(links.count >= 5)
        for link in links where !link.hasPrefix("http://") && !link.hasPrefix("https://") && !link.isEmpty {
            #expect(!link.hasPrefix("../"), "README links outside the repository: \(link)")
            #expect(FileManager.default.fileExists(atPath: Self.root + "/" + link), "README links to a missing file: \(link)")
        }
    }
}
