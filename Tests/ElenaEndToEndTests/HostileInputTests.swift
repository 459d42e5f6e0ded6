import ElenaCore
import ElenaTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A hostile-input corpus, generated here (never downloaded), run through the binary in one drop: every file gets
/// its named outcome — cropped, or one error line naming it — the rest of the batch completes, and nothing leaves
/// metadata behind.
@Suite struct HostileInputTests {
    /// What should happen to each corpus file.
    enum Outcome {
        /// Cropped and queued for review.
        case cropped
        /// Refused with an error line containing this text.
        case refused(String)
        /// The same bytes as another file: one item for both, no error.
        case sameItem
    }

    static func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
    static func be32(_ value: Int) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Writes the corpus into `source` (and a file outside it) and returns each name with its outcome.
    static func writeCorpus(into source: String, outside: String) throws -> [(name: String, outcome: Outcome)] {
        var corpus: [(String, Outcome)] = []
        func write(_ name: String, _ data: Data, _ outcome: Outcome) throws {
            try data.write(to: URL(fileURLWithPath: source + "/" + name))
            corpus.append((name, outcome))
        }
        func image(_ seed: UInt64) -> SyntheticImage { SyntheticImage(width: 320, height: 480, seed: seed) }

        // Names.
        try write("spaces in the name.png", try image(101).encoded(.png), .cropped)
        try write("élena 😀 ünïcode.png", try image(102).encoded(.png), .cropped)
        try write("new\nline.png", try image(103).encoded(.png), .cropped)
        try write("a..b.png", try image(104).encoded(.png), .cropped)
        // Every EXIF orientation, with GPS that must not survive.
        for orientation in 1...8 {
            try write("orientation-\(orientation).jpg", ComfyMetadata.jpeg(try image(110 + UInt64(orientation)).encoded(.jpeg), orientation: orientation), .cropped)
        }
        // Broken and hostile bytes.
        try write("zero-bytes.png", Data(), .refused("the file is empty (0 bytes)"))
        try write("truncated.png", try SourceFixtures.truncatedPNG(), .refused("decode"))
        try write("text-with-an-image-name.jpg", Data("<html>not a picture</html>\n".utf8), .refused("looks like text"))
        let bomb =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8) + be32(60000) + be32(60000)
            + [8, 6, 0, 0, 0] + be32(Int(CRC32.checksum(Array("IHDR".utf8) + be32(60000) + be32(60000) + [8, 6, 0, 0, 0])))
        try write("decompression-bomb.png", Data(bomb), .refused("image too large"))
        let gif = Array("GIF89a".utf8) + le16(32) + le16(32) + [0, 0, 0] + [0x3B]
        try write("a-gif-named.png", Data(gif), .refused("GIF images are not supported"))
        // Links.
        try image(120).encoded(.png).write(to: URL(fileURLWithPath: outside + "/secret.png"))
        symlink(outside + "/secret.png", source + "/link-outside.png")
        corpus.append(("link-outside.png", .refused("a symbolic link to a file outside the source folder")))
        symlink("spaces in the name.png", source + "/link-inside.png")
        corpus.append(("link-inside.png", .sameItem))
        symlink("nowhere.png", source + "/dangling.png")
        corpus.append(("dangling.png", .refused("a symbolic link to a file that does not exist")))
        // A name that is not UTF-8.
        let invalid: [CChar] = Array((source + "/bad-").utf8CString.dropLast()) + [CChar(bitPattern: 0xFF), 0x2E, 0x70, 0x6E, 0x67, 0]
        let descriptor = open(invalid, O_WRONLY | O_CREAT, 0o644)
        try #require(descriptor >= 0)
        let png = [UInt8](try image(121).encoded(.png))
        _ = png.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        corpus.append(("bad-", .refused("the file name is not valid UTF-8")))
        return corpus
    }

    @Test func everyCorpusFileHasItsOutcomeAndTheBatchCompletes() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            let outside = drop.folder("outside")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            let corpus = try Self.writeCorpus(into: drop.folder("src"), outside: outside)
            try drop.writeManifest(extra: "")
            let run = try await drop.run()
            #expect(run.exitCode == 1, "some items failed, the rest went on\n\(run)")
            let errors = run.standardError.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error:") }
            let refused = corpus.filter { if case .refused = $0.outcome { return true } else { return false } }
            for (name, outcome) in corpus {
                let shown = name.replacingOccurrences(of: "\n", with: "\\n")
                switch outcome {
                case .refused(let reason):
                    #expect(errors.contains { $0.contains(shown) && $0.contains(reason) }, "\(shown): \(reason)\n\(run.standardError)")
                case .cropped, .sameItem:
                    #expect(!errors.contains { $0.contains(shown) }, "\(shown) should not fail\n\(run.standardError)")
                }
            }
            #expect(errors.count == refused.count, "one line per refused file, nothing else\n\(errors.joined(separator: "\n"))")
            #expect(!run.standardError.contains("secret.png"), "nothing outside the source folder is read")
            let cropped = corpus.filter { if case .cropped = $0.outcome { return true } else { return false } }.count
            let review = drop.files("3_review/\(drop.drop)")
            #expect(review.count == cropped + 2, "every good file (and the two ordinary images) reaches review: \(review)")
            for file in review {
                let data = try Data(contentsOf: URL(fileURLWithPath: drop.library + "/3_review/\(drop.drop)/" + file))
                #expect(MetadataInspector.metadata(in: data).isEmpty, "\(file) carries metadata")
            }
            // A second run is calm: nothing new fails, the same files are refused the same way.
            let again = try await drop.run()
            #expect(again.exitCode == 1)
            #expect(again.standardError.split(separator: "\n").filter { $0.hasPrefix("error:") }.count == refused.count)
        }
    }
}
