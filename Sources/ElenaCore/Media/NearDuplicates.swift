package import Foundation

/// What one picture looks like: its structure (pHash, 64 bits: brightness, re-encoding and resizing barely move it)
/// and its colours (a 4x4 chroma grid: the colours pHash, which works on grey, does not see). Two pictures are one
/// when both are close (`NearDuplicates`).
package struct PictureFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// pHash.
    package var structure: Fingerprint
    /// The chroma grid.
    package var colour: Fingerprint

    /// Creates one.
    package init(structure: Fingerprint, colour: Fingerprint) {
        self.structure = structure
        self.colour = colour
    }

    /// Reads `<16 hex digits>-<64 hex digits>`, as the ledger keeps it.
    package init?(text: String) {
        var text = text
        let read = text.withUTF8 { utf8 -> PictureFingerprint? in
            guard let dash = utf8.firstIndex(of: UInt8(ascii: "-")),
                let structure = Fingerprint(kind: .phash, hex: UnsafeBufferPointer(rebasing: utf8[..<dash])),
                let colour = Fingerprint(kind: .chroma, hex: UnsafeBufferPointer(rebasing: utf8[(dash + 1)...]))
            else { return nil }
            return PictureFingerprint(structure: structure, colour: colour)
        }
        guard let read else { return nil }
        self = read
    }

    /// `<pHash hex>-<chroma hex>`.
    package var description: String { "\(structure)-\(colour)" }

    /// The structure's distance in bits when the colours are close enough to be one picture; nil when they are not.
    package func distance(to other: PictureFingerprint) -> Int? {
        guard let colours = colour.distance(to: other.colour), colours <= NearDuplicates.colourLimit else { return nil }
        return structure.distance(to: other.structure)
    }
}

/// An item's fingerprints: of its picture as generated, and of the crop that leaves the machine (nil until it is
/// cut).
package struct ItemFingerprints: Sendable, Hashable {
    /// The whole picture (the source file).
    package var picture: PictureFingerprint
    /// The crop (the part of the picture that is published).
    package var crop: PictureFingerprint?

    /// Creates fingerprints.
    package init(picture: PictureFingerprint, crop: PictureFingerprint?) {
        self.picture = picture
        self.crop = crop
    }
}

/// When two pictures are one: the thresholds, chosen from `elena-dev fingerprints` (the README's near-duplicates
/// table), and the pure decisions built on them. Pure.
package enum NearDuplicates {
    /// The structure hash.
    package static let kind = FingerprintKind.phash
    /// Two pictures whose structures are at most this many bits apart (of 64)…
    package static let threshold = 10
    /// …and whose chroma grids differ by at most this much (a sum over 32 values) are one picture.
    package static let colourLimit = 200
    /// A group larger than this is not copies of one picture but pictures the fingerprint cannot tell apart (flat or
    /// tiny images): it is said once, not shown as a group ("keep the best, reject the rest" means nothing there).
    package static let largestGroup = 50
    /// The rule in a few words: a finding kept under one rule does not hold under another (`LookalikeCheck`). Bump
    /// the last number when the judgement changes in a way the thresholds do not show.
    package static let rule = "\(kind.rawValue) \(threshold) \(colourLimit) 1"

    /// The fingerprint of a decoded picture, or of the rectangle `rect` of it.
    package static func fingerprint(of image: any DecodedImage, in rect: PixelRect? = nil) throws -> PictureFingerprint {
        PictureFingerprint(structure: try image.fingerprint(kind, of: rect), colour: try image.fingerprint(.chroma, of: rect))
    }

    /// The fingerprint of a picture given as its file's bytes (a copy found elsewhere: a download, a screenshot, a
    /// chat's media), and with `mirrored` also that of its mirror image.
    /// - Throws: `ImageHeaderError` or `ImageCodecError` for bytes that are not a picture the codec reads.
    package static func fingerprints(
        of bytes: Data, codec: any ImageCodec, mirrored: Bool = false
    ) throws -> [PictureFingerprint] {
        let picture = try codec.decode(bytes, header: try ImageHeader.read(bytes), limits: .standard)
        var prints = [try fingerprint(of: picture)]
        if mirrored {
            prints.append(try fingerprint(of: picture.edited(contrast: 1, brightness: 0, mirror: true, caption: nil)))
        }
        return prints
    }

    /// How far apart two items' pictures are (the structure's bits): the closer of picture to picture and crop to
    /// crop; nil when neither pair is one picture by its colours.
    package static func distance(_ a: ItemFingerprints, _ b: ItemFingerprints) -> Int? {
        let pictures = a.picture.distance(to: b.picture)
        let crops = a.crop.flatMap { crop in b.crop.flatMap { crop.distance(to: $0) } }
        return [pictures, crops].compactMap { $0 }.min()
    }

    /// Whether two items show the same picture.
    package static func areNear(_ a: ItemFingerprints, _ b: ItemFingerprints) -> Bool {
        distance(a, b).map { $0 <= threshold } ?? false
    }

    /// How far a picture (any copy of it: a screenshot, a download; given as it is and mirrored) is from an item:
    /// the closest of its distances to the item's picture and to its crop.
    package static func distance(of copy: [PictureFingerprint], to item: ItemFingerprints) -> Int? {
        copy.flatMap { print in [item.picture.distance(to: print), item.crop.flatMap { $0.distance(to: print) }] }
            .compactMap { $0 }.min()
    }

    /// The items of `items` that show the same picture, in groups of two or more (each in the order given; groups
    /// by their first member): two items are grouped when a chain of near pairs joins them. Items with the very same
    /// fingerprints are joined first (a drop of re-saved copies, or of flat images the fingerprint cannot tell
    /// apart, costs one comparison per distinct picture); the distinct ones are compared pair by pair, as integers.
    package static func groups<ID: Hashable>(_ items: [(id: ID, prints: ItemFingerprints)]) -> [[ID]] {
        var parent = Array(items.indices)
        func root(_ index: Int) -> Int {
            var index = index
            while parent[index] != index {
                parent[index] = parent[parent[index]]
                index = parent[index]
            }
            return index
        }
        func join(_ a: Int, _ b: Int) {
            let (ra, rb) = (root(a), root(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        var first: [ItemFingerprints: Int] = [:]
        var distinct: [Int] = []
        for index in items.indices {
            if let same = first[items[index].prints] {
                join(same, index)
            } else {
                first[items[index].prints] = index
                distinct.append(index)
            }
        }
        let packed = distinct.map { PackedItem(items[$0].prints) }
        for a in packed.indices {
            for b in (a + 1)..<max(a + 1, packed.count) where root(distinct[a]) != root(distinct[b]) {
                let near: Bool
                if let pa = packed[a], let pb = packed[b] {
                    near = pa.isNear(pb)
                } else {
                    near = areNear(items[distinct[a]].prints, items[distinct[b]].prints)
                }
                if near { join(distinct[a], distinct[b]) }
            }
        }
        var members: [Int: [Int]] = [:]
        for index in items.indices { members[root(index), default: []].append(index) }
        return members.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }.map { $0.map { items[$0].id } }
    }

    /// A 64-bit fingerprint as an integer (nil for other sizes).
    struct Packed {
        var bits: UInt64

        init?(_ print: Fingerprint) {
            guard print.bytes.count == 8 else { return nil }
            bits = print.bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    /// An item's fingerprints as integers and a vector of colours: one pair is compared in a few instructions.
    struct PackedItem {
        var picture: (UInt64, SIMD32<UInt8>)
        var crop: (UInt64, SIMD32<UInt8>)?

        init?(_ prints: ItemFingerprints) {
            func pack(_ print: PictureFingerprint) -> (UInt64, SIMD32<UInt8>)? {
                guard let structure = Packed(print.structure), print.colour.bytes.count == 32 else { return nil }
                return (structure.bits, SIMD32<UInt8>(print.colour.bytes))
            }
            guard let picture = pack(prints.picture) else { return nil }
            self.picture = picture
            if let crop = prints.crop {
                guard let packed = pack(crop) else { return nil }
                self.crop = packed
            }
        }

        static func near(_ a: (UInt64, SIMD32<UInt8>), _ b: (UInt64, SIMD32<UInt8>)) -> Bool {
            guard (a.0 ^ b.0).nonzeroBitCount <= threshold else { return false }
            let difference = pointwiseMax(a.1, b.1) &- pointwiseMin(a.1, b.1)
            return Int(SIMD32<UInt16>(truncatingIfNeeded: difference).wrappedSum()) <= colourLimit
        }

        /// The same rule as `NearDuplicates.areNear`: picture to picture, or crop to crop.
        func isNear(_ other: PackedItem) -> Bool {
            if Self.near(picture, other.picture) { return true }
            if let crop, let otherCrop = other.crop { return Self.near(crop, otherCrop) }
            return false
        }
    }

    /// For each of `candidates`, the items of `others` (another set, or the library) that show the same picture,
    /// nearest first. A candidate is never its own near-duplicate. The structures are compared as integers first;
    /// only the few pairs close in structure have their colours compared.
    package static func matches<ID: Hashable>(
        _ candidates: [(id: ID, prints: ItemFingerprints)], in others: [(id: ID, prints: ItemFingerprints)]
    ) -> [ID: [(id: ID, distance: Int)]] {
        let index = Index(others)
        let blocks = blocksPay(lookups: candidates.count, among: others.count) ? BlockIndexes(index) : nil
        var found: [ID: [(id: ID, distance: Int)]] = [:]
        for candidate in candidates {
            func judge(_ other: (id: ID, prints: ItemFingerprints)) -> Int? {
                guard other.id != candidate.id, let distance = distance(candidate.prints, other.prints), distance <= threshold
                else { return nil }
                return distance
            }
            // Picture with picture, crop with crop (the pairs `distance` measures); a candidate whose structures are
            // not 64 bits has every item judged.
            let prints = candidate.prints
            let near =
                packed(prints).map { index.near($0, blocks: blocks, judge: judge) }
                ?? index.near([prints.picture] + (prints.crop.map { [$0] } ?? []), judge: judge)
            if !near.isEmpty { found[candidate.id] = near }
        }
        return found
    }

    /// For each of `items` that looks like a picture already approved or published (any of `decided`, never
    /// itself), the nearest such picture: what the run flags `near_duplicate` and the review page names.
    package static func lookalikes(
        of items: [(id: Digest, prints: ItemFingerprints)], among decided: [DecidedPicture]
    ) -> [Digest: DecidedPicture] {
        guard !items.isEmpty, !decided.isEmpty else { return [:] }
        let nearest = matches(items, in: decided.map { (id: $0.id, prints: $0.prints) }).compactMapValues { $0.first?.id }
        // Only the pictures found are looked up by id (a dictionary of all of them weighed about 45 MB in a library
        // of 100,000 decided pictures).
        let found = Set(nearest.values)
        var byID: [Digest: DecidedPicture] = [:]
        for picture in decided where found.contains(picture.id) && byID[picture.id] == nil { byID[picture.id] = picture }
        return nearest.compactMapValues { byID[$0] }
    }

    /// The decided pictures of `decided` (given by their structures) that may look like one of `items`: every one
    /// whose picture's structure is within the threshold of an item's picture, or whose crop's is of its crop (those
    /// are the pairs `distance` measures), and every one whose picture is not a 64-bit structure. A superset of what
    /// `lookalikes` finds among them, in the order given.
    package static func candidates(for items: [ItemFingerprints], among decided: [DecidedStructure]) -> [Digest] {
        guard !items.isEmpty, !decided.isEmpty else { return [] }
        // Each distinct pair of structures looked up once (a drop of re-saved copies, or of flat pictures, has few).
        var wanted: [(picture: UInt64, crop: UInt64?)] = []
        var seen = Set<[UInt64?]>()
        for prints in items {
            // Not 64 bits: nothing to look up by; every one is looked at whole.
            guard let structures = packed(prints) else { return decided.map(\.id) }
            if seen.insert([structures.picture, structures.crop]).inserted { wanted.append(structures) }
        }
        let blocks =
            blocksPay(lookups: wanted.count, among: decided.count)
            ? BlockIndexes(pictures: decided.lazy.map(\.picture), crops: decided.lazy.map { $0.picture == nil ? nil : $0.crop })
            : nil
        var chosen = [Bool](repeating: false, count: decided.count)
        for structures in wanted {
            if let blocks {
                for position in blocks.close(picture: structures.picture, crop: structures.crop) { chosen[position] = true }
            } else {
                for position in decided.indices where !chosen[position] {
                    chosen[position] = mayBeNear(picture: decided[position].picture, crop: decided[position].crop, structures)
                }
            }
        }
        return decided.indices.filter { chosen[$0] }.map { decided[$0].id }
    }

    /// An item's structures as integers, its picture's and its crop's (nil when it has no crop); nil when either is
    /// not 64 bits.
    static func packed(_ prints: ItemFingerprints) -> (picture: UInt64, crop: UInt64?)? {
        let crop = prints.crop.map { Packed($0.structure)?.bits }
        guard let picture = Packed(prints.picture.structure)?.bits, crop != .some(nil) else { return nil }
        return (picture, crop ?? nil)
    }

    /// Whether an item whose structures are `picture` and `crop` may be near one whose structures are `wanted`: its
    /// picture within the threshold of the picture, or its crop of the crop (the pairs `distance` measures); always
    /// when its picture is not a 64-bit structure (nil), which only its fingerprints can tell.
    static func mayBeNear(picture: UInt64?, crop: UInt64?, _ wanted: (picture: UInt64, crop: UInt64?)) -> Bool {
        guard let picture else { return true }
        if (picture ^ wanted.picture).nonzeroBitCount <= threshold { return true }
        guard let crop, let wantedCrop = wanted.crop else { return false }
        return (crop ^ wantedCrop).nonzeroBitCount <= threshold
    }

    /// Whether `lookups` structures are best found among `count` items through their blocks (`BlockIndexes`) rather
    /// than by a scan each: many against a big set (a drop's waiting items against a library's decided pictures).
    static func blocksPay(lookups: Int, among count: Int) -> Bool { lookups >= 2 && count >= 512 }

    /// The items of `library` a copy of a picture (given as it is and mirrored) shows, nearest first.
    package static func nearest<ID: Hashable>(
        to copy: [PictureFingerprint], in library: [(id: ID, prints: ItemFingerprints)]
    ) -> [(id: ID, distance: Int)] {
        Index(library).near(copy) { other in distance(of: copy, to: other.prints).flatMap { $0 <= threshold ? $0 : nil } }
    }

    /// A library's structures as integers, for scanning: one XOR and a bit count per fingerprint.
    struct Index<ID: Hashable> {
        let items: [(id: ID, prints: ItemFingerprints)]
        let pictures: [UInt64?]
        let crops: [UInt64?]

        init(_ items: [(id: ID, prints: ItemFingerprints)]) {
            self.items = items
            pictures = items.map { Packed($0.prints.picture.structure)?.bits }
            crops = items.map { $0.prints.crop.flatMap { Packed($0.structure)?.bits } }
        }

        /// The items whose picture or crop structure is within the threshold of one of `prints` (or that cannot be
        /// compared as integers), then judged by `judge` (nil: not near), nearest first.
        func near(_ prints: [PictureFingerprint], judge: ((id: ID, prints: ItemFingerprints)) -> Int?) -> [(id: ID, distance: Int)] {
            let wanted = prints.map { Packed($0.structure)?.bits }
            // Worked out once, not per item: the list was made again for each of a library's 100,000 items, for
            // each item waiting in a drop (7 s for a drop of 500 against 100,000 decided pictures).
            let anyUnpacked = wanted.contains(nil)
            let structures = wanted.compactMap { $0 }
            var found: [(id: ID, distance: Int)] = []
            for position in items.indices {
                var close = anyUnpacked
                if !close {
                    if let picture = pictures[position] {
                        let crop = crops[position]
                        for bits in structures {
                            if (picture ^ bits).nonzeroBitCount <= threshold { close = true; break }
                            if let crop, (crop ^ bits).nonzeroBitCount <= threshold { close = true; break }
                        }
                    } else {
                        close = true
                    }
                }
                if close, let distance = judge(items[position]) { found.append((items[position].id, distance)) }
            }
            return found.sorted { $0.distance < $1.distance }
        }

        /// The items that may be near an item of structures `wanted` (`mayBeNear`), found through `blocks` when
        /// given, else by a scan, in the order of the index; then judged by `judge`, nearest first.
        func near(
            _ wanted: (picture: UInt64, crop: UInt64?), blocks: BlockIndexes?, judge: ((id: ID, prints: ItemFingerprints)) -> Int?
        ) -> [(id: ID, distance: Int)] {
            let positions =
                blocks?.close(picture: wanted.picture, crop: wanted.crop)
                ?? items.indices.filter { NearDuplicates.mayBeNear(picture: pictures[$0], crop: crops[$0], wanted) }
            var found: [(id: ID, distance: Int)] = []
            for position in positions {
                if let distance = judge(items[position]) { found.append((items[position].id, distance)) }
            }
            return found.sorted { $0.distance < $1.distance }
        }
    }

    /// An index's pictures and crops looked up by their structures' four 16-bit blocks (multi-index hashing): two
    /// structures at most `threshold` bits apart are at most `threshold / 4` bits apart in one block at least (were
    /// all four further apart, they would add up to more), so a structure's near ones are among the items whose
    /// block holds one of the few values that close to its own (137 values a block), not anywhere in the library.
    struct BlockIndexes {
        static let radius = threshold / 4
        /// The 16-bit values of at most `radius` bits set: XORed with a block, the values that close to it.
        static let masks: [UInt16] = (0...UInt16.max).filter { $0.nonzeroBitCount <= radius }
        let pictures: Blocks
        let crops: Blocks
        /// Items whose picture is not a 64-bit structure: always judged, as the scan does.
        let unpacked: [Int]

        init<ID: Hashable>(_ index: Index<ID>) {
            // A crop is compared only for an item whose picture is a 64-bit structure (the others are judged anyway).
            self.init(pictures: index.pictures, crops: zip(index.pictures, index.crops).map { $0 == nil ? nil : $1 })
        }

        /// Pictures' structures and crops' by position (nil: not 64 bits; a crop's, or none).
        init(pictures: some Collection<UInt64?>, crops: some Collection<UInt64?>) {
            self.pictures = Blocks(pictures)
            self.crops = Blocks(crops)
            unpacked = pictures.enumerated().filter { $0.element == nil }.map(\.offset)
        }

        /// The items whose picture is within the threshold of `picture` or whose crop is within it of `crop`, and
        /// those whose picture is not a 64-bit structure, in the order of the index.
        func close(picture: UInt64, crop: UInt64?) -> [Int] {
            var found = unpacked
            collect(picture, in: pictures, into: &found)
            if let crop { collect(crop, in: crops, into: &found) }
            found.sort()
            var unique: [Int] = []
            unique.reserveCapacity(found.count)
            for position in found where unique.last != position { unique.append(position) }
            return unique
        }

        /// Appends the positions whose structure is within the threshold of `wanted` (one found through several blocks
        /// is appended as often: `close` keeps one). A block's entries hold their structures, so the many that are not
        /// close are passed over without a look elsewhere.
        private func collect(_ wanted: UInt64, in blocks: Blocks, into found: inout [Int]) {
            for block in 0..<4 {
                let value = UInt16(truncatingIfNeeded: wanted >> (16 * block))
                blocks.starts[block].withUnsafeBufferPointer { starts in
                    blocks.structures[block].withUnsafeBufferPointer { structures in
                        for mask in Self.masks {
                            let key = Int(value ^ mask)
                            for slot in Int(starts[key])..<Int(starts[key + 1])
                            where (structures[slot] ^ wanted).nonzeroBitCount <= threshold {
                                found.append(Int(blocks.positions[block][slot]))
                            }
                        }
                    }
                }
            }
        }

        /// One set of structures (nil: none, or not 64 bits), its positions grouped by each block's value.
        struct Blocks {
            /// Per block: where the entries of each of the 65,536 values start (one more entry: the end).
            let starts: [[Int32]]
            /// Per block, its entries: the position of each, and its whole structure.
            let positions: [[Int32]]
            let structures: [[UInt64]]

            init(_ values: some Collection<UInt64?>) {
                var starts: [[Int32]] = []
                var positions: [[Int32]] = []
                var structures: [[UInt64]] = []
                for block in 0..<4 {
                    func key(_ bits: UInt64) -> Int { Int(UInt16(truncatingIfNeeded: bits >> (16 * block))) }
                    var counts = [Int32](repeating: 0, count: 65_537)
                    for bits in values { if let bits { counts[key(bits) + 1] += 1 } }
                    for value in 0..<65_536 { counts[value + 1] += counts[value] }
                    var next = counts
                    var placed = [Int32](repeating: 0, count: Int(counts[65_536]))
                    var placedBits = [UInt64](repeating: 0, count: Int(counts[65_536]))
                    for (position, bits) in values.enumerated() {
                        guard let bits else { continue }
                        placed[Int(next[key(bits)])] = Int32(position)
                        placedBits[Int(next[key(bits)])] = bits
                        next[key(bits)] += 1
                    }
                    starts.append(counts)
                    positions.append(placed)
                    structures.append(placedBits)
                }
                self.starts = starts
                self.positions = positions
                self.structures = structures
            }
        }
    }
}
