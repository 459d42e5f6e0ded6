package import Foundation
internal import Crypto

/// A SHA-256 digest. Stored as 32 raw bytes (fast to hash and compare, which run-cache lookups do by the tens of
/// thousands); shown and stored as 64 lowercase hex characters.
package struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    fileprivate let a: UInt64
    fileprivate let b: UInt64
    fileprivate let c: UInt64
    fileprivate let d: UInt64

    /// Parses hex text; returns nil unless it is 64 hex characters.
    package init?(hex: String) {
        // Read on every ledger row (a library's run cache holds one per finished step): no allocation.
        var text = hex
        guard let words = text.withUTF8({ Self.words(hex: $0) }) else { return nil }
        (a, b, c, d) = words
    }

    /// Parses the 64 lowercase hex characters `hex` would give back, and nothing else (not upper case): a database
    /// reads a text column holding them as a digest, and its text must read back the same.
    package init?(lowercaseHex bytes: UnsafeBufferPointer<UInt8>) {
        guard let words = Self.words(hex: bytes, table: Self.lowercaseNibbles) else { return nil }
        (a, b, c, d) = words
    }

    /// Each byte's value as a hex digit (either case), 0xFF for a byte that is not one.
    private static let nibbles: [UInt8] = (0...255).map { byte in
        switch byte {
        case 48...57: UInt8(byte - 48)
        case 97...102: UInt8(byte - 87)
        case 65...70: UInt8(byte - 55)
        default: 0xFF
        }
    }

    /// The same for lower-case digits only.
    private static let lowercaseNibbles: [UInt8] = nibbles.enumerated().map { byte, nibble in (65...70).contains(byte) ? 0xFF : nibble }

    private static func words(hex bytes: UnsafeBufferPointer<UInt8>, table nibbles: [UInt8] = nibbles) -> (UInt64, UInt64, UInt64, UInt64)? {
        guard bytes.count == 64 else { return nil }
        // A table lookup per character, and one check for them all (a library's run cache reads a million of these).
        return nibbles.withUnsafeBufferPointer { table in
            var invalid: UInt8 = 0
            func word(_ start: Int) -> UInt64 {
                var value: UInt64 = 0
                for index in start..<start + 16 {
                    let nibble = table[Int(bytes[index])]
                    invalid |= nibble
                    value = value << 4 | UInt64(nibble & 0xF)
                }
                return value
            }
            let words = (word(0), word(16), word(32), word(48))
            return invalid & 0xF0 == 0 ? words : nil
        }
    }

    /// A SHA-256 digest from swift-crypto, read as four big-endian words (no copy through a sequence).
    init(bytes digest: SHA256Digest) {
        (a, b, c, d) = digest.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            )
        }
    }

    /// The digest whose 32 raw bytes (big-endian words, as `append(to:)` writes them) start at `offset` of `raw`,
    /// which must hold them.
    package init(raw: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + 32 <= raw.count, "a digest needs 32 bytes")
        (a, b, c, d) = (
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
        )
    }

    /// Hashes the first of the four words alone: a digest's bits are spread evenly already, and a run hashes
    /// hundreds of thousands (its run cache's look-ups, the stat cache's, the items'). Equality still compares all.
    package func hash(into hasher: inout Hasher) { hasher.combine(a) }

    /// The digest of some bytes.
    package static func of(_ data: Data) -> Digest { Digest(bytes: SHA256.hash(data: data)) }

    /// The digest of a string's UTF-8 bytes.
    package static func of(_ text: String) -> Digest { of(Data(text.utf8)) }

    /// 64 lowercase hex characters.
    package var hex: String { hexPrefix(64) }

    /// The first `count` hex characters.
    package func hexPrefix(_ count: Int) -> String {
        let digits: StaticString = "0123456789abcdef"
        let length = max(0, min(64, count))
        return String(unsafeUninitializedCapacity: length) { buffer in
            digits.withUTF8Buffer { table in
                for position in 0..<length { buffer[position] = hexDigit(position, table) }
            }
            return length
        }
    }

    /// Appends the 32 raw bytes (big-endian, as they appear in the hex text).
    package func append(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: (a.bigEndian, b.bigEndian, c.bigEndian, d.bigEndian)) { bytes.append(contentsOf: $0) }
    }

    /// Stores the 32 raw bytes at `pointer`, as `append(to:)` lays them out.
    package func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: a.bigEndian, toByteOffset: 0, as: UInt64.self)
        pointer.storeBytes(of: b.bigEndian, toByteOffset: 8, as: UInt64.self)
        pointer.storeBytes(of: c.bigEndian, toByteOffset: 16, as: UInt64.self)
        pointer.storeBytes(of: d.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Appends the 64 lowercase hex characters as UTF-8 bytes (no string made).
    func appendHex(to bytes: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { table in
            for position in 0..<64 { bytes.append(hexDigit(position, table)) }
        }
    }

    /// The hex character at `position` (0 to 63), from `table` (the 16 digits).
    private func hexDigit(_ position: Int, _ table: UnsafeBufferPointer<UInt8>) -> UInt8 {
        let word = position < 16 ? a : position < 32 ? b : position < 48 ? c : d
        return table[Int(word >> UInt64(60 - 4 * (position % 16)) & 0xF)]
    }

    /// The first `count` hex characters, for file names and display.
    package func prefix(_ count: Int = 12) -> String { hexPrefix(count) }

    /// The hex text.
    package var description: String { hex }

    /// Orders as the hex text would.
    package static func < (lhs: Digest, rhs: Digest) -> Bool { (lhs.a, lhs.b, lhs.c, lhs.d) < (rhs.a, rhs.b, rhs.c, rhs.d) }

    /// Encodes as the hex string.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    /// Decodes from the hex string.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a SHA-256 hex digest")
        }
        self = digest
    }
}

/// Incremental SHA-256 over many pieces (for hashing files in chunks).
package struct DigestBuilder {
    private var hasher = SHA256()

    /// Starts an empty hash.
    package init() {}

    /// Adds bytes.
    package mutating func update(_ data: Data) { hasher.update(data: data) }

    /// Adds raw bytes.
    package mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// Adds a digest's 32 bytes, in the order its hex text shows them (the same on every machine).
    package mutating func update(_ digest: Digest) {
        // On the stack: a look over 100,000 waiting items adds 100,000 digests, each an array of its own before.
        let words = (digest.a.bigEndian, digest.b.bigEndian, digest.c.bigEndian, digest.d.bigEndian)
        withUnsafeBytes(of: words) { hasher.update(bufferPointer: $0) }
    }

    /// The digest of everything added.
    package func finalize() -> Digest { Digest(bytes: hasher.finalize()) }
}

/// How the project lays out the parts it hashes together (a cache key, a part's projected rows): a text part is its
/// UTF-8 length as a big-endian 64-bit number, then its bytes, so no two different lists of parts give the same bytes.
package enum DigestParts {
    /// Appends a text part.
    package static func append(_ text: String, to bytes: inout [UInt8]) {
        append(count: text.utf8.count, to: &bytes)
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends a length (of a text part that follows, or of a list), as a big-endian 64-bit number.
    package static func append(count: Int, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt64(count).bigEndian) { bytes.append(contentsOf: $0) }
    }
}
