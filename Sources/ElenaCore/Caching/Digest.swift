public import Foundation
internal import Crypto

/// A SHA-256 digest, shown and stored as 64 lowercase hex characters.
public struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The hex text.
    public let hex: String

    /// Wraps hex text; returns nil unless it is 64 lowercase hex characters.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return nil
        }
        self.hex = hex
    }

    private init(trusted hex: String) { self.hex = hex }

    /// The digest of some bytes.
    public static func of(_ data: Data) -> Digest {
        Digest(trusted: hexString(SHA256.hash(data: data)))
    }

    /// The digest of a string's UTF-8 bytes.
    public static func of(_ text: String) -> Digest { of(Data(text.utf8)) }

    /// The first `count` hex characters, for file names and display.
    public func prefix(_ count: Int = 12) -> String { String(hex.prefix(count)) }

    /// The hex text.
    public var description: String { hex }

    /// Orders by hex text.
    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    static func hexString<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes as the hex string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    /// Decodes from the hex string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = Digest(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a SHA-256 hex digest")
        }
        self = digest
    }
}

/// Incremental SHA-256 over many pieces (for hashing files in chunks).
public struct DigestBuilder {
    private var hasher = SHA256()

    /// Starts an empty hash.
    public init() {}

    /// Adds bytes.
    public mutating func update(_ data: Data) { hasher.update(data: data) }

    /// Adds raw bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// The digest of everything added.
    public func finalize() -> Digest {
        Digest(hex: Digest.hexString(hasher.finalize())) ?? Digest.of(Data())
    }
}
