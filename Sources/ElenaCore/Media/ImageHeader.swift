package import Foundation

/// What the first bytes of a file say about it, read without decoding pixels: the format, the size, the
/// EXIF orientation and whether it is animated. Used to reject non-images and decompression bombs early.
package struct ImageHeader: Sendable, Hashable {
    /// Container formats recognised by their signature.
    package enum Format: String, Sendable, Hashable {
        case png, jpeg, gif, webp, bmp, tiff
    }

    /// The format.
    package var format: Format
    /// Stored width (before orientation).
    package var width: Int
    /// Stored height (before orientation).
    package var height: Int
    /// Bits per channel where the format says (PNG, JPEG).
    package var bitDepth: Int?
    /// Channel layout where known, e.g. `gray`, `rgb`, `rgba`, `cmyk`.
    package var colorModel: String?
    /// EXIF orientation 1–8 (1 when absent).
    package var orientation: Int
    /// More than one frame (APNG, animated GIF/WebP).
    package var animated: Bool
    /// Whether the file carries EXIF, XMP or text metadata (informational).
    package var hasMetadata: Bool

    /// The size after the EXIF orientation is applied.
    package var orientedSize: PixelSize {
        orientation >= 5 ? PixelSize(width: height, height: width) : PixelSize(width: width, height: height)
    }
}

/// Why a file is not usable as an image.
package struct ImageHeaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One sentence for the per-item error line.
    package var description: String
}

extension ImageHeader {
    /// Reads the header.
    /// - Parameter data: the file's bytes (the first 64 KiB are enough for every supported format).
    /// - Throws: `ImageHeaderError` for empty files, non-images and broken headers.
    package static func read(_ data: Data) throws(ImageHeaderError) -> ImageHeader {
        // JPEG metadata segments may run to megabytes before the frame header; segments are skipped by length.
        let bytes = [UInt8](data.starts(with: [0xFF, 0xD8]) ? data : data.prefix(1 << 20))
        guard !bytes.isEmpty else { throw ImageHeaderError(description: "the file is empty (0 bytes)") }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try png(bytes) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try jpeg(bytes) }
        if bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8)) { return try gif(bytes) }
        if bytes.count >= 16, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return try webp(bytes)
        }
        if bytes.starts(with: Array("BM".utf8)), bytes.count >= 26 {
            let width = Int(Int32(bitPattern: le32(bytes, 18)))
            let height = Int(Int32(bitPattern: le32(bytes, 22)))
            return try checked(ImageHeader(format: .bmp, width: width, height: abs(height), bitDepth: nil, colorModel: nil, orientation: 1, animated: false, hasMetadata: false))
        }
        if bytes.starts(with: [0x49, 0x49, 0x2A, 0x00]) || bytes.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) {
            let (width, height, orientation) = tiffInfo(bytes, base: 0)
            return try checked(ImageHeader(format: .tiff, width: width ?? 0, height: height ?? 0, bitDepth: nil, colorModel: nil, orientation: orientation, animated: false, hasMetadata: true))
        }
        throw ImageHeaderError(description: "not an image: \(describeContent(bytes))")
    }

    private static func checked(_ header: ImageHeader) throws(ImageHeaderError) -> ImageHeader {
        guard header.width > 0, header.height > 0 else {
            throw ImageHeaderError(description: "broken \(header.format.rawValue.uppercased()) header: size \(header.width)x\(header.height)")
        }
        return header
    }

    /// A short human description of what the bytes look like instead.
    static func describeContent(_ bytes: [UInt8]) -> String {
        let head = bytes.prefix(64)
        let printable = head.filter { (0x20..<0x7F).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if printable.count == head.count {
            let text = String(decoding: head, as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            let shown = text.count > 24 ? String(text.prefix(24)) + "…" : text
            return "it looks like text (\"\(shown)\")"
        }
        let hex = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        return "unknown file signature \(hex)"
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        guard i + 4 <= b.count else { return 0 }
        return UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
    static func be16(_ b: [UInt8], _ i: Int) -> Int {
        guard i + 2 <= b.count else { return 0 }
        return Int(b[i]) << 8 | Int(b[i + 1])
    }
    static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        guard i + 4 <= b.count else { return 0 }
        return UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    static func le16(_ b: [UInt8], _ i: Int) -> Int {
        guard i + 2 <= b.count else { return 0 }
        return Int(b[i]) | Int(b[i + 1]) << 8
    }

    private static func png(_ bytes: [UInt8]) throws(ImageHeaderError) -> ImageHeader {
        guard bytes.count >= 33, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageHeaderError(description: "broken PNG: the IHDR header is missing or truncated")
        }
        let colorTypes = [0: "gray", 2: "rgb", 3: "palette", 4: "gray+alpha", 6: "rgba"]
        var header = ImageHeader(
            format: .png, width: Int(be32(bytes, 16)), height: Int(be32(bytes, 20)), bitDepth: Int(bytes[24]),
            colorModel: colorTypes[Int(bytes[25])], orientation: 1, animated: false, hasMetadata: false)
        for chunk in PNGChunks.scan(bytes, limit: 64) {
            switch chunk.type {
            case "acTL": header.animated = true
            case "tEXt", "zTXt", "iTXt": header.hasMetadata = true
            case "eXIf":
                header.hasMetadata = true
                header.orientation = tiffInfo(Array(bytes[chunk.range]), base: 0).orientation
            default: break
            }
        }
        return try checked(header)
    }

    private static func jpeg(_ bytes: [UInt8]) throws(ImageHeaderError) -> ImageHeader {
        var index = 2
        var orientation = 1
        var hasMetadata = false
        while index + 4 <= bytes.count {
            guard bytes[index] == 0xFF else {
                throw ImageHeaderError(description: "broken JPEG: bad marker at byte \(index)")
            }
            let marker = bytes[index + 1]
            if marker == 0xFF {
                index += 1
                continue
            }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) {
                index += 2
                continue
            }
            let length = be16(bytes, index + 2)
            guard length >= 2 else { throw ImageHeaderError(description: "broken JPEG: bad segment length") }
            let body = index + 4
            if marker == 0xE1, body + 6 <= bytes.count, Array(bytes[body..<body + 6]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                hasMetadata = true
                // A segment shorter than its "Exif" signature has no TIFF data (found by the header fuzzer).
                let end = min(bytes.count, index + 2 + length)
                if end > body + 6 { orientation = tiffInfo(Array(bytes[(body + 6)..<end]), base: 0).orientation }
            } else if (0xE1...0xEF).contains(marker) || marker == 0xFE {
                hasMetadata = true
            }
            let startOfFrame: Set<UInt8> = [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF]
            if startOfFrame.contains(marker) {
                guard body + 6 <= bytes.count else { throw ImageHeaderError(description: "broken JPEG: truncated frame header") }
                let components = Int(bytes[body + 5])
                let model = [1: "gray", 3: "ycbcr", 4: "cmyk"][components]
                return try checked(
                    ImageHeader(
                        format: .jpeg, width: be16(bytes, body + 3), height: be16(bytes, body + 1),
                        bitDepth: Int(bytes[body]), colorModel: model, orientation: orientation, animated: false,
                        hasMetadata: hasMetadata))
            }
            if marker == 0xDA || marker == 0xD9 { break }
            index += 2 + length
        }
        throw ImageHeaderError(description: "broken JPEG: no frame header found (truncated file?)")
    }

    private static func gif(_ bytes: [UInt8]) throws(ImageHeaderError) -> ImageHeader {
        guard bytes.count >= 10 else { throw ImageHeaderError(description: "broken GIF: truncated header") }
        // Counting image descriptors needs a full parse; a NETSCAPE loop extension is the usual animation sign.
        let animated = bytes.count > 20 && containsSequence(bytes, Array("NETSCAPE2.0".utf8))
        return try checked(
            ImageHeader(
                format: .gif, width: le16(bytes, 6), height: le16(bytes, 8), bitDepth: 8, colorModel: "palette",
                orientation: 1, animated: animated, hasMetadata: false))
    }

    private static func webp(_ bytes: [UInt8]) throws(ImageHeaderError) -> ImageHeader {
        guard bytes.count >= 30 else { throw ImageHeaderError(description: "broken WebP: truncated header") }
        let kind = String(decoding: bytes[12..<16], as: UTF8.self)
        var width = 0
        var height = 0
        var animated = false
        switch kind {
        case "VP8 ":
            width = le16(bytes, 26) & 0x3FFF
            height = le16(bytes, 28) & 0x3FFF
        case "VP8L":
            let b = bytes
            width = 1 + (Int(b[21]) | (Int(b[22]) & 0x3F) << 8)
            height = 1 + ((Int(b[22]) >> 6) | Int(b[23]) << 2 | (Int(b[24]) & 0x0F) << 10)
        case "VP8X":
            animated = bytes[20] & 0x02 != 0
            width = 1 + (Int(bytes[24]) | Int(bytes[25]) << 8 | Int(bytes[26]) << 16)
            height = 1 + (Int(bytes[27]) | Int(bytes[28]) << 8 | Int(bytes[29]) << 16)
        default:
            throw ImageHeaderError(description: "broken WebP: unknown chunk '\(kind)'")
        }
        return try checked(
            ImageHeader(
                format: .webp, width: width, height: height, bitDepth: 8, colorModel: nil, orientation: 1,
                animated: animated, hasMetadata: false))
    }

    static func containsSequence(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return true }
        }
        return false
    }

    /// Reads width, height and orientation from a TIFF structure (an EXIF block is one).
    static func tiffInfo(_ b: [UInt8], base: Int) -> (width: Int?, height: Int?, orientation: Int) {
        guard b.count >= base + 8 else { return (nil, nil, 1) }
        let little = b[base] == 0x49
        func u16(_ i: Int) -> Int { little ? le16(b, base + i) : be16(b, base + i) }
        func u32(_ i: Int) -> Int { Int(little ? le32(b, base + i) : be32(b, base + i)) }
        let ifd = u32(4)
        guard ifd >= 8, base + ifd + 2 <= b.count else { return (nil, nil, 1) }
        let count = u16(ifd)
        var width: Int?
        var height: Int?
        var orientation = 1
        for entry in 0..<min(count, 256) {
            let at = ifd + 2 + entry * 12
            guard base + at + 12 <= b.count else { break }
            let tag = u16(at)
            let type = u16(at + 2)
            let value = type == 3 ? u16(at + 8) : u32(at + 8)
            switch tag {
            case 0x0100: width = value
            case 0x0101: height = value
            case 0x0112: orientation = (1...8).contains(value) ? value : 1
            default: break
            }
        }
        return (width, height, orientation)
    }
}
