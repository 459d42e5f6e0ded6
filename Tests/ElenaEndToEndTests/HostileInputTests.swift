import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A hostile-input corpus, generated here (never downloaded), run through the binary in one drop: every file gets
/// its named outcome — cropped, or one error line naming it — the rest of the batch completes, and nothing leaves
/// metadata behind. (Animated GIF, PNG and WebP are refused from their headers.)
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
    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func be32(_ value: Int) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// A PNG of any colour type and bit depth, its pixels a gradient, compressed with stored (uncompressed) deflate
    /// blocks so no encoder is needed.
    static func png(width: Int, height: Int, colorType: UInt8, bitDepth: UInt8, palette: [UInt8]? = nil) -> Data {
        let channels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(colorType)] ?? 3
        let bytesPerSample = bitDepth == 16 ? 2 : 1
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width {
                for channel in 0..<channels {
                    let value = colorType == 3 ? (x / 8 + y / 8) % 4 : (x * 255 / max(1, width - 1) + channel * 60 + y) % 256
                    let alpha = (colorType == 4 || colorType == 6) && channel == channels - 1
                    let sample = alpha ? (x < width / 2 ? 255 : 96) : value
                    if bytesPerSample == 2 { raw += [UInt8(sample), UInt8((sample * 7) % 256)] } else { raw.append(UInt8(sample)) }
                }
            }
        }
        var deflate: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65535, raw.count - offset)
            let last: UInt8 = offset + count == raw.count ? 1 : 0
            deflate += [last, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            deflate += raw[offset..<offset + count]
            offset += count
        } while offset < raw.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        deflate += be32(Int(b << 16 | a))
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            be32(body.count) + Array(type.utf8) + body + be32(Int(CRC32.checksum(Array(type.utf8) + body)))
        }
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        bytes += chunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType, 0, 0, 0])
        if let palette { bytes += chunk("PLTE", palette) }
        bytes += chunk("IDAT", deflate) + chunk("IEND", [])
        return Data(bytes)
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
        // Every PNG colour type, 8 and 16 bits: converted to 8-bit colour, transparency flattened.
        try write("rgb-16-bit.png", png(width: 240, height: 360, colorType: 2, bitDepth: 16), .cropped)
        try write("rgba-16-bit.png", png(width: 240, height: 360, colorType: 6, bitDepth: 16), .cropped)
        try write("rgba-alpha.png", png(width: 240, height: 360, colorType: 6, bitDepth: 8), .cropped)
        try write("grayscale.png", png(width: 240, height: 360, colorType: 0, bitDepth: 8), .cropped)
        try write("grayscale-16-bit.png", png(width: 240, height: 360, colorType: 0, bitDepth: 16), .cropped)
        try write("gray-alpha.png", png(width: 240, height: 360, colorType: 4, bitDepth: 8), .cropped)
        try write("palette.png", png(width: 240, height: 360, colorType: 3, bitDepth: 8, palette: [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]), .cropped)
        try write("cmyk.jpg", HandBuiltImages.cmykJPEG(width: 320, height: 480), .cropped)
        // Broken and hostile bytes.
        try write("zero-bytes.png", Data(), .refused("the file is empty (0 bytes)"))
        try write("truncated.png", try SourceFixtures.truncatedPNG(), .refused("decode"))
        try write("text-with-an-image-name.jpg", Data("<html>not a picture</html>\n".utf8), .refused("looks like text"))
        let bomb =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8) + be32(60000) + be32(60000)
            + [8, 6, 0, 0, 0] + be32(Int(CRC32.checksum(Array("IHDR".utf8) + be32(60000) + be32(60000) + [8, 6, 0, 0, 0])))
        try write(
            "decompression-bomb.png", Data(bomb), .refused("image too large: 60000x60000: its 60000 px side is above the limit of 30000 px"))
        // At the side limit but far above the pixel limit: the message names the limit it breaks.
        let wide =
            [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8) + be32(30000) + be32(30000)
            + [8, 6, 0, 0, 0] + be32(Int(CRC32.checksum(Array("IHDR".utf8) + be32(30000) + be32(30000) + [8, 6, 0, 0, 0])))
        try write("many-megapixels.png", Data(wide), .refused("its 900 megapixels are above the limit of 100 megapixels"))
        let gif = Array("GIF89a".utf8) + le16(32) + le16(32) + [0, 0, 0] + [0x3B]
        try write("a-gif-named.png", Data(gif), .refused("GIF images are not supported"))
        // Animated PNG: an ordinary PNG with an animation control chunk (2 frames) before its image data.
        var apng = [UInt8](png(width: 240, height: 360, colorType: 2, bitDepth: 8))
        let control = Array("acTL".utf8) + be32(2) + be32(0)
        apng.insert(contentsOf: be32(8) + control + be32(Int(CRC32.checksum(control))), at: 33)
        try write("animated.png", Data(apng), .refused("animated PNG: only still images can be cropped"))
        // Animated WebP: an extended header (VP8X) with the animation flag, 320×480.
        func le24(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF)] }
        let vp8x = Array("VP8X".utf8) + [10, 0, 0, 0] + [0x02, 0, 0, 0] + le24(319) + le24(479)
        let anim = Array("ANIM".utf8) + [6, 0, 0, 0] + [0, 0, 0, 0, 0, 0]
        let webpBody = Array("WEBP".utf8) + vp8x + anim
        let webp = Array("RIFF".utf8) + [UInt8(webpBody.count & 0xFF), UInt8(webpBody.count >> 8 & 0xFF), 0, 0] + webpBody
        try write("animated.webp", Data(webp), .refused("animated WEBP: only still images can be cropped"))
        // Links.
        try image(120).encoded(.png).write(to: URL(fileURLWithPath: outside + "/secret.png"))
        symlink(outside + "/secret.png", source + "/link-outside.png")
        corpus.append(("link-outside.png", .refused("a symbolic link to a file outside the source folder")))
        symlink("spaces in the name.png", source + "/link-inside.png")
        corpus.append(("link-inside.png", .sameItem))
        symlink("nowhere.png", source + "/dangling.png")
        corpus.append(("dangling.png", .refused("a symbolic link to a file that does not exist")))
        // A named pipe with an image name: never opened (reading it would block).
        mkfifo(source + "/pipe.png", 0o644)
        corpus.append(("pipe.png", .refused("not a regular file")))
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

    /// A sub-folder the run may not read is named in an error line, and the rest of the source goes on. (Root
    /// reads everything, so under root the binary runs as `nobody`.)
    @Test func anUnreadableFolderIsNamedAndTheRestGoesOn() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            let locked = drop.folder("src/locked")
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
            try SyntheticImage(width: 320, height: 480, seed: 130).encoded(.png).write(to: URL(fileURLWithPath: locked + "/inside.png"))
            chmod(locked, 0)
            defer { chmod(locked, 0o755) }
            var runner = drop.runner
            var arguments = ["drop.yaml"]
            if getuid() == 0 {
                chmod(drop.folder.path, 0o777)
                arguments = ["-u", "nobody", "--", runner.executable] + arguments
                runner.executable = "/usr/sbin/runuser"
            }
            let run = try await runner.run(arguments)
            #expect(run.standardError.contains("error: locked/: cannot read this folder (Permission denied)"), "\(run)")
            #expect(drop.files("3_review/\(drop.drop)").count == 2, "the readable images reach review\n\(run)")
        }
    }

    /// A file rewritten between the run's look at it and its read (here: in place, same size, same time, same
    /// inode, so only the bytes say so) is refused with a clear line, and the next run takes the new bytes.
    @Test func aFileThatChangesUnderTheRunIsRefusedThenTakenNextTime() async throws {
        try await withDrop(.sqlite, images: 2) { drop in
            let path = drop.folder("src/changing.png")
            let broken = Data(repeating: 0x41, count: 4000)
            try broken.write(to: URL(fileURLWithPath: path))
            let first = try await drop.run()
            #expect(first.standardError.contains("changing.png"), "the first bytes are not an image\n\(first)")
            // New bytes of the same length, written in place, with the old modification time put back.
            var info = stat()
            stat(path, &info)
            var image = try SyntheticImage(width: 64, height: 96, seed: 140).encoded(.png)
            #expect(image.count < broken.count)
            image.append(Data(repeating: 0, count: broken.count - image.count))  // PNG readers stop at IEND
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.write(contentsOf: image)
            try handle.close()
            var times = [info.st_atim, info.st_mtim]
            utimensat(AT_FDCWD, path, &times, 0)
            var after = stat()
            stat(path, &after)
            #expect(after.st_ino == info.st_ino && after.st_size == info.st_size && after.st_mtim.tv_nsec == info.st_mtim.tv_nsec)

            let second = try await drop.run()
            #expect(second.standardError.contains("changing.png: ingest: the file changed while it was being read"), "\(second)")
            let third = try await drop.run()
            #expect(!third.standardError.contains("changing.png"), "the next run reads the new bytes\n\(third)")
            #expect(drop.files("3_review/\(drop.drop)").count == 3)
        }
    }

    /// Files deleted at random moments (seeded, printed) while a run reads them: each one
    /// either went through before it vanished or gets one error line naming it; nothing crashes, the other files
    /// complete, and the next run is calm.
    @Test func filesThatDisappearDuringTheRunAreNamedAndTheRestCompletes() async throws {
        try await withDrop(.sqlite, images: 0) { drop in
            let names = await offCooperativePool { (try? SourceFixtures.writeImages(into: drop.folder, count: 40, width: 1024, height: 1536)) ?? [] }
            try #require(names.count == 40)
            let seed = UInt64.random(in: 1...999_999)
            var random = SeededRandom(seed: seed)
            let doomed = Array(names.shuffled(using: &random).prefix(15))
            print("disappearing files: seed \(seed)")
            let run = try drop.runner.start(["drop.yaml"], logPath: drop.folder("run.log"))
            // Once ingest has begun, the run has listed every file: deletions from then on hit files it means to
            // read. On a thread of its own, so a busy test process cannot delay them until the run is done.
            let raw = drop.library + "/1_raw/" + drop.drop
            let source = drop.folder("src")
            let pauses = doomed.map { _ in UInt32.random(in: 5_000...60_000, using: &random) }
            await offCooperativePool {
                let deadline = Date().addingTimeInterval(120)
                while ((try? FileManager.default.contentsOfDirectory(atPath: raw)) ?? []).isEmpty && run.isRunning && Date() < deadline {
                    usleep(2_000)
                }
                for (name, pause) in zip(doomed, pauses) {
                    usleep(pause)
                    try? FileManager.default.removeItem(atPath: source + "/" + name)
                }
            }
            let code = await run.wait()
            #expect(code == 1 || code == 3, "seed \(seed): a clean ending, not a crash (\(code))\n\(run.log)")
            #expect(!run.log.contains("Fatal error") && !run.log.contains("crashed"), "seed \(seed)\n\(run.log)")
            let errors = run.log.split(separator: "\n").filter {
                $0.hasPrefix("error:") && !$0.hasPrefix("error: more items fail with the same error")
            }
            for line in errors {
                #expect(doomed.contains { line.contains($0) }, "seed \(seed): only vanished files fail: \(line)")
                #expect(line.contains("the file is gone") || line.contains("No such file"), "seed \(seed): says why: \(line)")
            }
            let named = doomed.filter { name in errors.contains { $0.contains(name) } }.count
            print("disappearing files: seed \(seed): \(named) of \(doomed.count) named in error lines, the others were read before they went")
            let survivors = names.filter { !doomed.contains($0) }
            let review = drop.files("3_review/\(drop.drop)")
            #expect(review.count >= survivors.count, "seed \(seed): every file that stayed reached review\n\(run.log)")
            let again = try await drop.run()
            #expect(again.exitCode == 3, "seed \(seed): \(again)")
            #expect(!again.standardError.contains("error:"), "seed \(seed): the next run is calm\n\(again)")
        }
    }
}
