import ElenaCore
import ElenaTestKit
import Foundation
import Testing

@Suite struct CacheKeyTests {
    static let raw = Digest.of("raw bytes")
    static let detection = Digest.of("detection json")
    static let parameters = JSONValue.object([.init("margin", .double(0.02)), .init("strategy", .string("no_face"))])
        .serialized(canonical: true)

    static func key(
        stage: String = "crop", version: Int = 1, parameters: String = CacheKeyTests.parameters,
        inputs: [(name: String, digest: Digest)] = [("raw", raw), ("detection", detection)]
    ) -> CacheKey {
        CacheKey(stage: stage, version: version, parameters: parameters, inputs: inputs)
    }

    @Test func sameInputsGiveTheSameKey() {
        #expect(Self.key() == Self.key())
        #expect(Self.key().description == Self.key().digest.hex)
        #expect(Self.key().description.count == 64)
    }

    /// The byte layout is part of the on-disk format: changing it silently invalidates every cache, so a change must
    /// bump the format tag and this test. Each text part is a big-endian 64-bit length followed by its UTF-8 bytes;
    /// inputs are sorted by name, each name followed by the digest's 32 raw bytes.
    @Test func byteLayoutIsStable() {
        var bytes = Data()
        func add(_ text: String) {
            let utf8 = Array(text.utf8)
            let length = UInt64(utf8.count)
            bytes.append(contentsOf: (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) })
            bytes.append(contentsOf: utf8)
        }
        func addRaw(_ digest: Digest) {
            let hex = Array(digest.hex.utf8)
            for index in stride(from: 0, to: 64, by: 2) {
                bytes.append(UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) ?? 0)
            }
        }
        for part in ["elena-run/cache-key/2", "crop", "1", Self.parameters] { add(part) }
        add("detection")
        addRaw(Self.detection)
        add("raw")
        addRaw(Self.raw)
        #expect(Self.key().digest == Digest.of(bytes))
    }

    @Test func aKeyNeverEqualsTheDigestOfItsParametersAlone() {
        #expect(Self.key().digest != Digest.of(Self.parameters))
    }

    @Test func inputOrderDoesNotMatter() {
        let forwards = Self.key(inputs: [("raw", Self.raw), ("detection", Self.detection)])
        let backwards = Self.key(inputs: [("detection", Self.detection), ("raw", Self.raw)])
        #expect(forwards == backwards)
    }

    /// Every order of five inputs (a collector's, a crop's with its source) gives the key of the sorted order.
    @Test func everyOrderOfSeveralInputsGivesOneKey() {
        let inputs = ["source", "ingest", "detect", "crop:ab", "crop:aa"].map { (name: $0, digest: Digest.of($0)) }
        let sorted = Self.key(inputs: inputs.sorted { $0.name < $1.name })
        func permutations(_ items: [(name: String, digest: Digest)]) -> [[(name: String, digest: Digest)]] {
            guard items.count > 1 else { return [items] }
            return items.indices.flatMap { index in
                var rest = items
                let first = rest.remove(at: index)
                return permutations(rest).map { [first] + $0 }
            }
        }
        let all = permutations(inputs)
        #expect(all.count == 120)
        for order in all { #expect(Self.key(inputs: order) == sorted, "\(order.map(\.name))") }
    }

    @Test func everyPartChangesTheKey() {
        let base = Self.key()
        let changed = [
            "stage": Self.key(stage: "detect"),
            "version": Self.key(version: 2),
            "parameters": Self.key(parameters: #"{"margin":0.03,"strategy":"no_face"}"#),
            "raw digest": Self.key(inputs: [("raw", Digest.of("other bytes")), ("detection", Self.detection)]),
            "detection digest": Self.key(inputs: [("raw", Self.raw), ("detection", Digest.of("other json"))]),
            "input name": Self.key(inputs: [("source", Self.raw), ("detection", Self.detection)]),
            "inputs swapped between names": Self.key(inputs: [("raw", Self.detection), ("detection", Self.raw)]),
            "an input removed": Self.key(inputs: [("raw", Self.raw)]),
            "no inputs": Self.key(inputs: []),
        ]
        for (what, key) in changed {
            #expect(key != base, "changing the \(what) must change the key")
        }
        #expect(Set(changed.values.map(\.digest)).count == changed.count, "all changed keys differ from each other too")
    }

    @Test func lengthPrefixesKeepNeighbouringPartsApart() {
        // Without length prefixes each pair would hash the same concatenated bytes.
        #expect(Self.key(stage: "crop1", version: 2) != Self.key(stage: "crop", version: 12))
        #expect(
            Self.key(inputs: [("ab", Self.raw), ("c", Self.detection)])
                != Self.key(inputs: [("a", Self.raw), ("bc", Self.detection)]))
        #expect(Self.key(stage: "ab", parameters: "c") != Self.key(stage: "a", parameters: "bc"))
        #expect(Self.key(parameters: "ab", inputs: []) != Self.key(parameters: "a", inputs: []))
        #expect(Self.key(stage: "", parameters: "") != Self.key(stage: "1", version: 1, parameters: ""))
    }

    /// A collector's inputs given as (stage, item, digest) make the key their names `stage:<item hex>` make, in any
    /// order and among plain names that sort before, between and after them.
    @Test func collectedInputsGiveTheKeyTheirNamesGive() {
        let items = (0..<40).map { Digest.of("item \($0)") }
        let collected = items.enumerated().flatMap { index, item in
            ["fingerprint", "crop"].map { CacheKey.Collected(stage: $0, item: item, digest: Digest.of("\($0) \(index)")) }
        }
        let plain = ["a", "crop", "crop:", "cropx", "fingerprint", "fingerprint:g", "source", "z"].map {
            (name: $0, digest: Digest.of("plain \($0)"))
        }
        let named = collected.map { (name: "\($0.stage):\($0.item.hex)", digest: $0.digest) }
        let expected = Self.key(stage: "similar", inputs: plain + named)
        let prefix = CacheKey.Prefix(stage: "similar", version: 1, parameters: Self.parameters)
        #expect(CacheKey(prefix: prefix, inputs: plain, collected: collected) == expected)
        #expect(CacheKey(prefix: prefix, inputs: plain.reversed(), collected: collected.reversed()) == expected)
        var shuffled = SeededRandom(seed: 7)
        #expect(CacheKey(prefix: prefix, inputs: plain, collected: collected.shuffled(using: &shuffled)) == expected)
        #expect(CacheKey(prefix: prefix, inputs: [], collected: collected) == Self.key(stage: "similar", inputs: named))
        #expect(CacheKey(prefix: prefix, inputs: plain, collected: []) == Self.key(stage: "similar", inputs: plain))
        // A drop's worth of them (more than the buffer the hasher is fed from at once).
        let many = (0..<3_000).map { CacheKey.Collected(stage: "fingerprint", item: Digest.of("many \($0)"), digest: Digest.of("\($0)")) }
        #expect(
            CacheKey(prefix: prefix, inputs: plain, collected: many)
                == Self.key(stage: "similar", inputs: plain + many.map { (name: "fingerprint:\($0.item.hex)", digest: $0.digest) }))
        // A different item or digest is a different key.
        var changed = collected
        changed[3].item = Digest.of("another item")
        #expect(CacheKey(prefix: prefix, inputs: plain, collected: changed) != expected)
    }

    /// An item's own parameters given apart make the key of the shared parameters, a line break and its own, with or
    /// without collected inputs, whatever the text (non-ASCII too, empty too).
    @Test func anItemsOwnParametersGiveTheKeyOfTheJoinedParameters() {
        let shared = #"{"légende":"Élena ✓","margin":0.02}"#
        let prefix = CacheKey.Prefix(stage: "ingést", version: 3, parameters: shared)
        let inputs = [(name: "source", digest: Self.raw), (name: "détection", digest: Self.detection)]
        let collected = [CacheKey.Collected(stage: "crop", item: Digest.of("item"), digest: Digest.of("crop"))]
        for own in [#""ComfyUI_00001_""#, #""stem – ünïcode""#, "", String(repeating: "x", count: 5_000)] {
            let joined = CacheKey.Prefix(stage: "ingést", version: 3, parameters: shared + "\n" + own)
            #expect(
                CacheKey(prefix: prefix, own: own, inputs: inputs, collectedCount: 0) { collected[$0] }
                    == CacheKey(stage: "ingést", version: 3, parameters: shared + "\n" + own, inputs: inputs))
            #expect(
                CacheKey(prefix: prefix, own: own, inputs: inputs, collectedCount: 1) { collected[$0] }
                    == CacheKey(prefix: joined, inputs: inputs, collected: collected))
            #expect(CacheKey(prefix: prefix, own: own, inputs: inputs, collectedCount: 0) { collected[$0] } != CacheKey(prefix: prefix, inputs: inputs))
        }
        // The layout itself, with text of several bytes a character: lengths count bytes.
        var bytes = Data()
        func add(_ text: String) {
            withUnsafeBytes(of: UInt64(text.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: Array(text.utf8))
        }
        for part in ["elena-run/cache-key/2", "ingést", "3", shared + "\n" + "ü"] { add(part) }
        add("détection")
        bytes.append(contentsOf: Self.detection.rawBytes)
        add("source")
        bytes.append(contentsOf: Self.raw.rawBytes)
        #expect(CacheKey(prefix: prefix, own: "ü", inputs: inputs, collectedCount: 0) { collected[$0] }.digest == Digest.of(bytes))
    }

    @Test func trustedKeyWrapsTheDigest() {
        let key = Self.key()
        #expect(CacheKey(trusted: key.digest) == key)
    }
}

extension Digest {
    /// The 32 raw bytes, read from the hex text (independently of how keys lay them out).
    fileprivate var rawBytes: [UInt8] {
        let hex = Array(self.hex.utf8)
        return stride(from: 0, to: 64, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16) ?? 0 }
    }
}
