import ElenaCore
import Foundation
import Testing

@Suite struct DigestTests {
    @Test(arguments: [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownSHA256Vectors(input: String, hex: String) {
        #expect(Digest.of(input).hex == hex)
        #expect(Digest.of(Data(input.utf8)).hex == hex)
        #expect(Digest.of(input).description == hex)
    }

    @Test func acceptsSixtyFourLowercaseHexCharacters() throws {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        let digest = try #require(Digest(hex: hex))
        #expect(digest == Digest.of("abc"))
        #expect(digest.prefix() == "ba7816bf8f01")
        #expect(digest.prefix(8) == "ba7816bf")
    }

    @Test(arguments: [
        "",
        "abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",  // 63
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",  // 65
        "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  // not hex
        " a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",  // not hex at the very end
        "ba7816bf8f01cfea414140de5dae2223:00361a396177a9cb410ff61f20015ad",  // nor in the middle
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015\u{7F}d",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\u{E9}",  // 64 characters, 65 bytes
    ])
    func rejectsBadText(text: String) {
        #expect(Digest(hex: text) == nil)
    }

    @Test func uppercaseHexIsAcceptedAndShownInLowercase() throws {
        let digest = try #require(Digest(hex: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"))
        #expect(digest == Digest.of("abc"))
        #expect(digest.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hexRoundTripsForManyDigests() throws {
        for index in 0..<200 {
            let digest = Digest.of("item \(index)")
            #expect(Digest(hex: digest.hex) == digest)
            #expect(digest.hex.count == 64)
            #expect(digest.hex.allSatisfy { "0123456789abcdef".contains($0) })
        }
    }

    @Test func codableAsTheHexString() throws {
        let digest = Digest.of("abc")
        let encoded = try JSONEncoder().encode([digest])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(digest.hex)\"]")
        #expect(try JSONDecoder().decode([Digest].self, from: encoded) == [digest])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([Digest].self, from: Data(#"["not-a-digest"]"#.utf8))
        }
    }

    @Test func ordersByHexText() {
        let digests = (0..<100).map { Digest.of("d\($0)") }
        #expect(digests.sorted().map(\.hex) == digests.map(\.hex).sorted())
    }

    @Test func builderOverChunksEqualsTheOneShotDigest() {
        let text = String(repeating: "elena-run ", count: 1000)
        var builder = DigestBuilder()
        var rest = Data(text.utf8)
        while !rest.isEmpty {
            builder.update(Data(rest.prefix(37)))
            rest = Data(rest.dropFirst(37))
        }
        #expect(builder.finalize() == Digest.of(text))
        var raw = DigestBuilder()
        Array("abc".utf8).withUnsafeBytes { raw.update($0) }
        #expect(raw.finalize() == Digest.of("abc"))
        #expect(DigestBuilder().finalize() == Digest.of(""))
    }

    /// A digest goes into a builder as the 32 bytes its hex text spells, whatever the machine's byte order: a
    /// digest of digests kept in a ledger reads the same on another machine.
    @Test func aDigestAddsTheBytesItsHexSpells() throws {
        let inner = Digest.of("elena")
        var builder = DigestBuilder()
        builder.update(inner)
        let hex = Array(inner.hex.utf8)
        let bytes = stride(from: 0, to: 64, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        #expect(builder.finalize() == Digest.of(Data(bytes)))
    }
}
