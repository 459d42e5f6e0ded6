/// Which perceptual hash a fingerprint is (OpenCV's img_hash): each survives different edits (see the README's
/// near-duplicates table, measured by `elena-dev fingerprints`).
package enum FingerprintKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// A 32x32 DCT's low frequencies against their median: 64 bits.
    case phash
    /// An 8x8 mean: 64 bits.
    case average
    /// 16x16 block means of a 256x256 resize: 256 bits.
    case blockMean = "block_mean"
    /// Marr-Hildreth edges: 576 bits.
    case marrHildreth = "marr_hildreth"
    /// The colour of a 4x4 grid (CIELAB a and b, lightness left out): 32 bytes, compared by the sum of their
    /// differences.
    case chroma

    /// The fingerprint's size in bits.
    package var bits: Int {
        switch self {
        case .phash, .average: return 64
        case .blockMean: return 256
        case .marrHildreth: return 576
        case .chroma: return 256
        }
    }

    /// Whether two fingerprints of this kind are compared bit by bit (the others by Euclidean distance).
    package var isBinary: Bool { self != .chroma }
}

/// What a picture looks like, in a few bytes: two fingerprints of the same kind a few bits apart are the same picture
/// (resized, re-encoded, slightly cropped, captioned), whatever their bytes.
package struct Fingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The hash.
    package var kind: FingerprintKind
    /// Its bits, as img_hash writes them.
    package var bytes: [UInt8]

    /// A fingerprint of `kind` with these bytes.
    package init(kind: FingerprintKind, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }

    /// Reads the hex text `description` writes; nil for anything else (or a length that is not the kind's).
    package init?(kind: FingerprintKind, hex: String) {
        var text = hex
        guard let read = text.withUTF8({ Fingerprint(kind: kind, hex: $0) }) else { return nil }
        self = read
    }

    /// The same from the text's bytes, read in place: a library's 100,000 items hold 400,000 fingerprints, each read
    /// by every `find` (the text and its bytes copied out first took most of the read).
    package init?(kind: FingerprintKind, hex utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count == kind.bits / 4 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: utf8.count / 2) { buffer, initialized in
            initialized = 0
            while initialized < buffer.count {
                guard let high = nibble(utf8[2 * initialized]), let low = nibble(utf8[2 * initialized + 1]) else {
                    valid = false
                    return
                }
                buffer[initialized] = high << 4 | low
                initialized += 1
            }
        }
        guard valid else { return nil }
        self.init(kind: kind, bytes: bytes)
    }

    /// Lowercase hex, as the ledger keeps it.
    package var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// How far apart two fingerprints of one kind are: the bits that differ, or for the chroma grid the sum of the
    /// differences of its 32 values (nil for fingerprints of different kinds or sizes).
    package func distance(to other: Fingerprint) -> Int? {
        if kind == .chroma {
            guard other.kind == .chroma, bytes.count == other.bytes.count else { return nil }
            return zip(bytes, other.bytes).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        }
        guard kind == other.kind, bytes.count == other.bytes.count else { return nil }
        var bits = 0
        for index in bytes.indices { bits += (bytes[index] ^ other.bytes[index]).nonzeroBitCount }
        return bits
    }
}
