import ArgumentParser
import ElenaCore
import ElenaVision
import Foundation

/// `elena-dev fingerprints <files…>`: how well each perceptual hash finds the same picture after the edits a picture
/// meets on its way (resized, re-encoded, cropped, brightened, mirrored, captioned, screenshotted), and how often it
/// takes two different pictures for one — the measurement the near-duplicate threshold is chosen from.
struct MeasureFingerprints: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fingerprints",
        abstract: "Measure perceptual hashes: same picture found after each edit, different pictures taken for one.")

    @Argument(help: "Original pictures, each a different photograph or image.")
    var files: [String]

    @Option(help: "Only this hash's per-edit table (phash, average, block_mean, marr_hildreth).")
    var detail = "phash"

    /// One edit a picture meets.
    struct Edit: Sendable {
        var name: String
        var apply: @Sendable (any DecodedImage, OpenCVCodec) throws -> any DecodedImage
    }

    static func reencode(_ image: any DecodedImage, _ codec: OpenCVCodec, _ format: ImageFormat, _ quality: Int) throws
        -> any DecodedImage
    {
        let data = try image.encode(PixelRect(x: 0, y: 0, width: image.width, height: image.height), format: format, quality: quality)
        return try codec.decode(data, header: try ImageHeader.read(data), limits: .standard)
    }

    static func crop(_ image: any DecodedImage, _ codec: OpenCVCodec, left: Double, top: Double, right: Double, bottom: Double)
        throws -> any DecodedImage
    {
        let x = Int(Double(image.width) * left)
        let y = Int(Double(image.height) * top)
        let width = image.width - x - Int(Double(image.width) * right)
        let height = image.height - y - Int(Double(image.height) * bottom)
        let data = try image.encode(PixelRect(x: x, y: y, width: width, height: height), format: .png, quality: 0)
        return try codec.decode(data, header: try ImageHeader.read(data), limits: .standard)
    }

    static func scaled(_ image: any DecodedImage, _ factor: Double) throws -> any DecodedImage {
        try image.resized(
            to: PixelSize(width: max(8, Int(Double(image.width) * factor)), height: max(8, Int(Double(image.height) * factor))),
            smooth: factor < 1)
    }

    static let edits: [Edit] = [
        Edit(name: "resized to 50 %") { image, _ in try scaled(image, 0.5) },
        Edit(name: "resized to 75 %") { image, _ in try scaled(image, 0.75) },
        Edit(name: "resized to 150 %") { image, _ in try scaled(image, 1.5) },
        Edit(name: "resized to 200 %") { image, _ in try scaled(image, 2) },
        Edit(name: "JPEG quality 30") { image, codec in try reencode(image, codec, .jpeg, 30) },
        Edit(name: "JPEG quality 60") { image, codec in try reencode(image, codec, .jpeg, 60) },
        Edit(name: "JPEG quality 95") { image, codec in try reencode(image, codec, .jpeg, 95) },
        Edit(name: "PNG (lossless)") { image, codec in try reencode(image, codec, .png, 0) },
        Edit(name: "cropped 2 % each side") { image, codec in try crop(image, codec, left: 0.02, top: 0.02, right: 0.02, bottom: 0.02) },
        Edit(name: "cropped 5 % each side") { image, codec in try crop(image, codec, left: 0.05, top: 0.05, right: 0.05, bottom: 0.05) },
        Edit(name: "cut line 2 px lower") { image, codec in
            try crop(image, codec, left: 0, top: 2 / Double(image.height), right: 0, bottom: 0)
        },
        Edit(name: "cut 10 % lower") { image, codec in try crop(image, codec, left: 0, top: 0.10, right: 0, bottom: 0) },
        Edit(name: "brighter (+25)") { image, _ in try image.edited(contrast: 1, brightness: 25, mirror: false, caption: nil) },
        Edit(name: "darker (-25)") { image, _ in try image.edited(contrast: 1, brightness: -25, mirror: false, caption: nil) },
        Edit(name: "contrast x1.25") { image, _ in try image.edited(contrast: 1.25, brightness: -32, mirror: false, caption: nil) },
        Edit(name: "contrast x0.8") { image, _ in try image.edited(contrast: 0.8, brightness: 25, mirror: false, caption: nil) },
        Edit(name: "mirrored") { image, _ in try image.edited(contrast: 1, brightness: 0, mirror: true, caption: nil) },
        Edit(name: "caption overlaid") { image, _ in
            try image.edited(contrast: 1, brightness: 0, mirror: false, caption: "@elena - new set tonight")
        },
        Edit(name: "screenshot (80 %, caption, JPEG 70)") { image, codec in
            let captioned = try scaled(image, 0.8).edited(contrast: 1, brightness: 0, mirror: false, caption: "elena 3:41 PM")
            return try reencode(captioned, codec, .jpeg, 70)
        },
    ]

    func run() throws {
        let codec = OpenCVCodec()
        let originals = try files.map { file -> (String, any DecodedImage) in
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            return (URL(fileURLWithPath: file).lastPathComponent, try codec.decode(data, header: try ImageHeader.read(data), limits: .standard))
        }
        let kinds = FingerprintKind.allCases
        // distances[kind][edit] = one distance per original; different[kind] = one per pair of originals.
        var same: [FingerprintKind: [[Int]]] = [:]
        var different: [FingerprintKind: [Int]] = [:]
        var cost: [FingerprintKind: Duration] = [:]
        var prints: [FingerprintKind: [Fingerprint]] = [:]
        for kind in kinds {
            _ = try originals.first?.1.fingerprint(kind)  // OpenCV's first call builds its tables: not a picture's cost
            let start = ContinuousClock.now
            prints[kind] = try originals.map { try $0.1.fingerprint(kind) }
            cost[kind] = (ContinuousClock.now - start) / originals.count
        }
        for edit in Self.edits {
            for kind in kinds { same[kind, default: []].append([]) }
            for (index, original) in originals.enumerated() {
                let edited = try edit.apply(original.1, codec)
                for kind in kinds {
                    let distance = try prints[kind]![index].distance(to: edited.fingerprint(kind)) ?? -1
                    same[kind]![same[kind]!.count - 1].append(distance)
                }
            }
        }
        for kind in kinds {
            let list = prints[kind]!
            for a in list.indices { for b in list.indices where b > a { different[kind, default: []].append(list[a].distance(to: list[b]) ?? -1) } }
        }

        print("\(originals.count) original pictures, \(Self.edits.count) edits each, \(originals.count * (originals.count - 1) / 2) pairs of different pictures")
        print("")
        print("hash            bits  cost/image  threshold  same picture found (all edits but mirrored)  different pictures taken for one")
        for kind in kinds {
            let edits = same[kind]!
            let unmirrored = zip(Self.edits, edits).filter { $0.0.name != "mirrored" }.flatMap(\.1)
            let pairs = different[kind]!
            let milliseconds = Double(cost[kind]!.components.attoseconds) / 1e15 + Double(cost[kind]!.components.seconds) * 1000
            let thresholds = kind.isBinary ? [0.05, 0.10, 0.15, 0.20, 0.25].map { Int((Double(kind.bits) * $0).rounded()) } : [50, 100, 150, 200, 300]
            for threshold in thresholds {
                let found = unmirrored.filter { $0 <= threshold }.count
                let wrong = pairs.filter { $0 <= threshold }.count
                print(
                    String(
                        format: "%-15@ %4d  %7.2f ms  %9d  %6d / %-6d (%5.1f %%)                   %4d / %-4d (%4.1f %%)",
                        kind.rawValue as NSString, kind.bits, milliseconds, threshold, found, unmirrored.count,
                        100 * Double(found) / Double(max(1, unmirrored.count)), wrong, pairs.count,
                        100 * Double(wrong) / Double(max(1, pairs.count))))
            }
            print(String(format: "%-15@ closest two different pictures: %d bits", kind.rawValue as NSString, pairs.min() ?? -1))
        }
        // The rule elena-run uses: the structure close (pHash) and the colours close (chroma grid).
        if let structure = same[.phash], let colour = same[.chroma] {
            print("")
            print("phash <= \(NearDuplicates.threshold) and chroma <= C   same picture found (all edits but mirrored)  different pictures taken for one")
            let structurePairs = different[.phash]!, colourPairs = different[.chroma]!
            for limit in [60, 100, 150, 200, 300] {
                var found = 0, total = 0
                for (index, edit) in Self.edits.enumerated() where edit.name != "mirrored" {
                    for (p, c) in zip(structure[index], colour[index]) {
                        total += 1
                        if p <= NearDuplicates.threshold && c <= limit { found += 1 }
                    }
                }
                let wrong = zip(structurePairs, colourPairs).filter { $0 <= NearDuplicates.threshold && $1 <= limit }.count
                print(String(format: "  C = %3d                          %6d / %-6d (%5.1f %%)                   %4d / %-4d", limit, found, total,
                             100 * Double(found) / Double(total), wrong, structurePairs.count))
            }
            let pairs = zip(structurePairs, colourPairs).filter { $0.0 <= NearDuplicates.threshold }.map(\.1).sorted()
            print("  chroma distance of the different pictures whose pHash is within \(NearDuplicates.threshold): \(pairs)")
        }
        guard let kind = FingerprintKind(rawValue: detail), let edits = same[kind] else { return }
        print("")
        let chosen = kind == NearDuplicates.kind ? NearDuplicates.threshold : kind.isBinary ? kind.bits * NearDuplicates.threshold / 64 : NearDuplicates.colourLimit
        print("\(kind.rawValue), per edit: found at \(chosen) bits, the largest distance to the original, and the median (of \(kind.bits) bits)")
        for (index, (edit, distances)) in zip(Self.edits, edits).enumerated() {
            let sorted = distances.sorted()
            // With pHash, also what elena-run's rule finds: the structure within the threshold and the colours too.
            let rule = kind == .phash
                ? zip(distances, same[.chroma]![index]).filter { $0 <= NearDuplicates.threshold && $1 <= NearDuplicates.colourLimit }.count
                : -1
            print(
                String(
                    format: "  %-38@ found %2d / %-2d  largest %3d   median %3d%@", edit.name as NSString,
                    distances.filter { $0 <= chosen }.count, distances.count, sorted.last ?? -1, sorted[sorted.count / 2],
                    (rule >= 0 ? "   with the colours: \(rule) / \(distances.count)" : "") as NSString))
        }
        let sorted = different[kind]!.sorted()
        print(String(format: "  %-38@ smallest %3d  median %3d", "different pictures" as NSString, sorted.first ?? -1, sorted[sorted.count / 2]))
        let list = prints[kind]!
        var close: [(Int, String)] = []
        for a in list.indices {
            for b in list.indices where b > a {
                if let distance = list[a].distance(to: list[b]), distance <= (kind.isBinary ? kind.bits / 5 : 100) {
                    close.append((distance, "\(originals[a].0) and \(originals[b].0)"))
                }
            }
        }
        for (distance, names) in close.sorted(by: { $0.0 < $1.0 }) { print("  different pictures \(distance) bits apart: \(names)") }
    }
}
