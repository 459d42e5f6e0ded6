import ElenaCore
import ElenaTestKit
import Testing

/// When two pictures are one: the structure (pHash bits) and the colours (the chroma grid) must both be close.
@Suite struct NearDuplicatesTests {
    /// A picture fingerprint whose structure is `bits` (as an integer) and whose chroma grid is 32 times `chroma`.
    static func picture(_ bits: UInt64, chroma: UInt8 = 128) -> PictureFingerprint {
        PictureFingerprint(
            structure: Fingerprint(kind: .phash, bytes: (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) }),
            colour: Fingerprint(kind: .chroma, bytes: Array(repeating: chroma, count: 32)))
    }

    /// `bits` with `count` of its bits, chosen at random, flipped.
    static func flipped(_ bits: UInt64, _ count: Int, using random: inout SeededRandom) -> UInt64 {
        var bits = bits
        for bit in (0..<64).shuffled(using: &random).prefix(count) { bits ^= 1 << UInt64(bit) }
        return bits
    }

    static func item(_ bits: UInt64, chroma: UInt8 = 128, crop: UInt64? = nil) -> ItemFingerprints {
        ItemFingerprints(picture: picture(bits, chroma: chroma), crop: crop.map { picture($0, chroma: chroma) })
    }

    @Test func theLedgersTextReadsBack() throws {
        let print = Self.picture(0x0123_4567_89ab_cdef, chroma: 0x7f)
        #expect(print.description == "0123456789abcdef-" + String(repeating: "7f", count: 32))
        #expect(PictureFingerprint(text: print.description) == print)
        #expect(PictureFingerprint(text: "0123456789abcdef") == nil, "no colours")
        #expect(PictureFingerprint(text: "0123456789abcdeg-" + String(repeating: "7f", count: 32)) == nil, "not hex")
        #expect(PictureFingerprint(text: "0123456789abcd-" + String(repeating: "7f", count: 32)) == nil, "too short")
        let colours = String(repeating: "7f", count: 32)
        #expect(PictureFingerprint(text: "0123456789abcdef-" + colours + "7f") == nil, "too long")
        #expect(PictureFingerprint(text: "0123456789abcdef-" + colours.dropLast()) == nil, "an odd digit short")
        #expect(PictureFingerprint(text: "0123456789abcdef--" + colours.dropFirst()) == nil, "two dashes")
        #expect(PictureFingerprint(text: "0123456789ABCDEF-" + colours) == nil, "the ledger writes lowercase")
        #expect(PictureFingerprint(text: "-0123456789abcdef-" + colours) == nil)
        #expect(PictureFingerprint(text: "") == nil && PictureFingerprint(text: "-") == nil)
        #expect(Fingerprint(kind: .phash, hex: "0123456789abcdef")?.bytes == [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])
        #expect(Fingerprint(kind: .phash, hex: "0123456789abcdez") == nil, "the last digit is read too")
    }

    @Test func bothTheStructureAndTheColoursMustBeClose() {
        let base = Self.item(0)
        // Ten bits apart, same colours: one picture; eleven: two.
        #expect(NearDuplicates.areNear(base, Self.item(0x3ff)))
        #expect(NearDuplicates.distance(base, Self.item(0x3ff)) == 10)
        #expect(!NearDuplicates.areNear(base, Self.item(0x7ff)))
        // The same structure in other colours (a dress in another colour, one pose): two pictures.
        #expect(NearDuplicates.distance(base, Self.item(0, chroma: 128 + 7)) == nil, "32 x 7 = 224 > 200")
        #expect(NearDuplicates.areNear(base, Self.item(0, chroma: 128 + 6)), "32 x 6 = 192 <= 200")
        // The crops count too: two pictures whose crops are one.
        #expect(NearDuplicates.areNear(Self.item(0, crop: 0xffff), Self.item(UInt64.max, crop: 0xfff)))
    }

    @Test func groupsJoinChainsAndLeaveLoneItemsOut() {
        let items: [(id: String, prints: ItemFingerprints)] = [
            ("a", Self.item(0)), ("lone", Self.item(0xffff_ffff_0000_0000)), ("b", Self.item(0x1f)),
            ("c", Self.item(0x1f | 0x3e0)), ("other colours", Self.item(0, chroma: 200)),
        ]
        // a~b (5 bits), b~c (5 bits), a and c 10 apart; "lone" is far; "other colours" has a's structure only.
        #expect(NearDuplicates.groups(items) == [["a", "b", "c"]])
        #expect(NearDuplicates.groups(Array(items.prefix(2))).isEmpty)
    }

    @Test func matchesAreNearestFirstAndNeverTheItemItself() {
        let library: [(id: String, prints: ItemFingerprints)] = [
            ("same", Self.item(0xff)), ("far", Self.item(0xffff)), ("close", Self.item(0x1)), ("twin", Self.item(0x3)),
        ]
        let found = NearDuplicates.matches([("twin", Self.item(0x3))], in: library)
        #expect(found["twin"]?.map(\.id) == ["close", "same"])
        #expect(found["twin"]?.map(\.distance) == [1, 6])
        #expect(NearDuplicates.matches([("x", Self.item(0xffff_0000_0000))], in: library).isEmpty)
    }

    /// The scan compares each wanted structure with every item's picture and crop: an item whose picture is far
    /// but whose crop is the same is found, by the library's scan as by a copy's.
    @Test func theScanFindsAnItemByItsCrop() {
        let library: [(id: String, prints: ItemFingerprints)] = [
            ("far", Self.item(0xffff_ffff_0000_0000, crop: 0xffff_0000_ffff_0000)),
            ("by its crop", Self.item(0xffff_ffff_0000_0000, crop: 0x0f)),
            ("no crop", Self.item(0xffff_ffff_0000_0000)),
        ]
        let found = NearDuplicates.matches([("new", Self.item(0x1234_0000_0000, crop: 0x0e))], in: library)
        #expect(found["new"]?.map(\.id) == ["by its crop"] && found["new"]?.first?.distance == 1, "\(found)")
        #expect(NearDuplicates.nearest(to: [Self.picture(0x0e)], in: library).map(\.id) == ["by its crop"])
        #expect(NearDuplicates.nearest(to: [Self.picture(0x1234), Self.picture(0x0e)], in: library).map(\.id) == ["by its crop"])
    }

    /// Each waiting item is named with the nearest decided picture that shows it, never itself.
    @Test func aLookalikeIsTheNearestDecidedPicture() {
        func decided(_ name: String, _ bits: UInt64) -> DecidedPicture {
            DecidedPicture(id: Digest.of(name), name: name, drop: "old", status: .published, prints: Self.item(bits))
        }
        let library = [decided("far", 0xffff), decided("six bits", 0x3f), decided("one bit", 0x1), decided("self", 0x0)]
        let waiting = [(id: Digest.of("self"), prints: Self.item(0)), (id: Digest.of("alone"), prints: Self.item(0xffff_0000_0000))]
        let found = NearDuplicates.lookalikes(of: waiting, among: library + [decided("one bit", 0x1)])
        #expect(found.count == 1 && found[Digest.of("self")]?.name == "one bit", "\(found)")
        #expect(NearDuplicates.lookalikes(of: waiting, among: []).isEmpty)
    }

    /// A run reads only the decided pictures `candidates` names: every one that can be near a waiting item must be
    /// among them (looked up one item at a time and, for many, through the blocks), and few others.
    @Test func theCandidatesHoldEveryDecidedPictureThatCanBeNear() {
        var random = SeededRandom(seed: 11)
        func flipped(_ bits: UInt64, _ count: Int) -> UInt64 { Self.flipped(bits, count, using: &random) }
        var waiting: [ItemFingerprints] = []
        var decided: [(id: Digest, prints: ItemFingerprints)] = []
        for index in 0..<40 {
            let (picture, crop) = (random.next(), random.next())
            waiting.append(Self.item(picture, crop: crop))
            decided.append((Digest.of("p\(index)"), Self.item(flipped(picture, Int.random(in: 0...10, using: &random)))))
            decided.append((Digest.of("c\(index)"), Self.item(random.next(), crop: flipped(crop, Int.random(in: 0...10, using: &random)))))
            decided.append((Digest.of("x\(index)"), Self.item(flipped(picture, 11), crop: flipped(crop, 11))))
        }
        for index in 0..<1000 { decided.append((Digest.of("s\(index)"), Self.item(random.next(), crop: random.next()))) }
        let short = PictureFingerprint(structure: Fingerprint(kind: .phash, bytes: [1, 2, 3]), colour: Self.picture(0).colour)
        decided.append((Digest.of("short"), ItemFingerprints(picture: short, crop: nil)))
        decided.shuffle(using: &random)
        let structures = decided.map { DecidedStructure(id: $0.id, prints: $0.prints) }
        #expect(structures.last { $0.id == Digest.of("short") }?.picture == nil)

        for asked in [Array(waiting.prefix(1)), waiting] {
            let candidates = NearDuplicates.candidates(for: asked, among: structures)
            let near = decided.filter { other in asked.contains { NearDuplicates.areNear($0, other.prints) } }.map(\.id)
            #expect(near.count >= asked.count * 2, "each waiting item has two near pictures")
            #expect(Set(near).isSubset(of: candidates), "asked about \(asked.count)")
            #expect(candidates.contains(Digest.of("short")), "a structure that is not 64 bits is always looked at")
            #expect(candidates.count == near.count + 1, "the others are not read: \(candidates.count) of \(decided.count)")
            // In the order given.
            #expect(candidates == structures.map(\.id).filter(Set(candidates).contains))
        }
        let unpacked = ItemFingerprints(picture: short, crop: nil)
        #expect(NearDuplicates.candidates(for: [unpacked], among: structures).count == decided.count, "nothing to look up by")
        #expect(NearDuplicates.candidates(for: [], among: structures).isEmpty)
    }

    /// Many candidates against a big set are looked up by their structures' blocks: `matches` finds exactly what
    /// comparing every pair finds, in the same order. Planted copies a few bits away in the picture, the crop or
    /// both (up to 12: some within the threshold, some not), an item whose structure is not 64 bits (always judged),
    /// a candidate in the set (never its own near-duplicate), and a thousand strangers with or without a crop.
    @Test func matchesThroughTheBlocksAreWhatEveryPairGives() {
        var random = SeededRandom(seed: 24)
        func flipped(_ bits: UInt64, _ count: Int) -> UInt64 { Self.flipped(bits, count, using: &random) }
        var library: [(id: Int, prints: ItemFingerprints)] = []
        var candidates: [(id: Int, prints: ItemFingerprints)] = []
        for id in 0..<60 {
            let picture = random.next()
            let crop = random.next()
            candidates.append((id, Self.item(picture, crop: crop)))
            library.append((1000 + id, Self.item(flipped(picture, Int.random(in: 0...12, using: &random)), crop: random.next())))
            library.append((2000 + id, Self.item(random.next(), crop: flipped(crop, Int.random(in: 0...12, using: &random)))))
            library.append((3000 + id, Self.item(flipped(picture, 10), crop: flipped(crop, 11))))
        }
        for id in 0..<1200 { library.append((10_000 + id, Self.item(random.next(), crop: id % 3 == 0 ? nil : random.next()))) }
        let short = PictureFingerprint(structure: Fingerprint(kind: .phash, bytes: [1, 2, 3]), colour: Self.picture(0).colour)
        library.append((99, ItemFingerprints(picture: short, crop: nil)))
        library.append(candidates[0])
        library.shuffle(using: &random)

        let found = NearDuplicates.matches(candidates, in: library)
        var expected: [Int: [(id: Int, distance: Int)]] = [:]
        for candidate in candidates {
            let near = library.compactMap { other -> (id: Int, distance: Int)? in
                guard other.id != candidate.id, let distance = NearDuplicates.distance(candidate.prints, other.prints),
                    distance <= NearDuplicates.threshold
                else { return nil }
                return (other.id, distance)
            }
            if !near.isEmpty { expected[candidate.id] = near.sorted { $0.distance < $1.distance } }
        }
        #expect(expected.count == 60 && found.count == 60, "each candidate has its copy 10 bits away")
        for (id, near) in expected {
            #expect(found[id]?.map(\.id) == near.map(\.id) && found[id]?.map(\.distance) == near.map(\.distance), "candidate \(id)")
        }
        #expect(expected.values.contains { $0.contains { $0.distance == 9 || $0.distance == 10 } }, "the edge of the threshold is tried")
    }

    @Test func aCopyIsMeasuredAgainstThePictureAndTheCrop() {
        let item = Self.item(0xf0f0, crop: 0x0f0f_0000)
        #expect(NearDuplicates.distance(of: [Self.picture(0x0f0f_0001)], to: item) == 1, "the crop")
        #expect(NearDuplicates.distance(of: [Self.picture(UInt64.max), Self.picture(0xf0f0)], to: item) == 0, "its mirror")
    }
}
