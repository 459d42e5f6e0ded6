import ElenaCore
package import Foundation

/// Looks inside encoded images for anything that could leak: EXIF, XMP, comments, PNG text chunks.
package enum MetadataInspector {
    /// The metadata-bearing parts found (empty when the file is clean).
    package static func metadata(in data: Data) -> [String] {
        let bytes = [UInt8](data)
        if bytes.starts(with: PNGChunks.signature) {
            let allowed: Set<String> = ["IHDR", "PLTE", "IDAT", "IEND", "tRNS"]
            return PNGChunks.scan(bytes).map(\.type).filter { !allowed.contains($0) }
        }
        guard bytes.starts(with: [0xFF, 0xD8]) else { return ["not an image"] }
        var found: [String] = []
        var index = 2
        while index + 4 <= bytes.count, bytes[index] == 0xFF {
            let marker = bytes[index + 1]
            if marker == 0xDA || marker == 0xD9 { break }
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if (0xE1...0xEF).contains(marker) || marker == 0xFE {
                let body = Array(bytes[(index + 4)..<min(bytes.count, index + 2 + length)])
                let tag = String(decoding: body.prefix(while: { $0 != 0 }).prefix(12), as: UTF8.self)
                found.append(String(format: "APP%d %@", Int(marker) - 0xE0, tag))
            }
            index += 2 + length
        }
        return found
    }
}
