package import Foundation

/// Reading and writing PNG chunks, for ComfyUI's text chunks (`prompt`, `workflow`).
package enum PNGChunks {
    /// One chunk's type and where its data lies in the file.
    package struct Chunk: Sendable, Hashable {
        /// Four-letter type such as `tEXt`.
        package var type: String
        /// The data bytes' range in the file.
        package var range: Range<Int>
    }

    /// A text chunk's keyword and content. `compressed` holds zlib data the caller must inflate.
    package struct TextEntry: Sendable, Hashable {
        /// The keyword, e.g. `prompt`.
        package var keyword: String
        /// The text, when stored uncompressed.
        package var text: String?
        /// zlib-compressed UTF-8 (zTXt, or iTXt with the compression flag), to inflate.
        package var compressed: Data?
    }

    /// The PNG signature.
    package static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Lists chunks up to IDAT's end, stopping at `limit` chunks or a malformed length.
    package static func scan(_ bytes: [UInt8], limit: Int = 4096) -> [Chunk] {
        guard bytes.starts(with: signature) else { return [] }
        var chunks: [Chunk] = []
        var index = 8
        while index + 8 <= bytes.count, chunks.count < limit {
            let length = Int(ImageHeader.be32(bytes, index))
            let type = String(decoding: bytes[(index + 4)..<(index + 8)], as: UTF8.self)
            let start = index + 8
            guard length >= 0, start + length <= bytes.count else { break }
            chunks.append(Chunk(type: type, range: start..<(start + length)))
            if type == "IEND" { break }
            index = start + length + 4
        }
        return chunks
    }

    /// Why a PNG file is structurally broken (truncated, or a chunk whose checksum does not match), or nil when
    /// every chunk is intact up to IEND. Checked before decoding so a broken file gets one clear message.
    /// - Parameters:
    ///   - data: the file.
    ///   - crc: computes CRC-32 of a byte range (the codec passes zlib's, which is several times faster).
    package static func structuralProblem(
        _ data: Data, crc: (UnsafeRawBufferPointer) -> UInt32 = { CRC32.checksum($0) }
    ) -> String? {
        data.withUnsafeBytes { bytes -> String? in
            func be32(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
            }
            guard bytes.count >= 8, zip(bytes.prefix(8), signature).allSatisfy({ $0 == $1 }) else { return "not a PNG file" }
            var index = 8
            while index + 12 <= bytes.count {
                let length = Int(be32(index))
                let end = index + 8 + length
                guard end + 4 <= bytes.count else { return "truncated PNG (a chunk runs past the end of the file)" }
                let type = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(index + 4)..<(index + 8)]), as: UTF8.self)
                if crc(UnsafeRawBufferPointer(rebasing: bytes[(index + 4)..<end])) != be32(end) {
                    return "corrupt PNG (the \(type) chunk's checksum is wrong)"
                }
                if type == "IEND" { return nil }
                index = end + 4
            }
            return "truncated PNG (no IEND chunk)"
        }
    }

    /// The chunks a PNG's pixels need: the rest (a colour profile, gamma, text, dates) elena-run never reads.
    static let pixelChunks: Set<String> = ["IHDR", "PLTE", "tRNS", "IDAT", "IEND"]

    /// The PNG with only the chunks its pixels need, or nil when it has nothing else (a file `structuralProblem`
    /// passed). libpng checks the other chunks as it decodes and prints what it dislikes on standard error without
    /// naming the file ("libpng warning: iCCP: known incorrect sRGB profile"); elena-run uses none of them, so the
    /// decoder is given the pixels alone and nothing is printed. The pixels decode the same.
    package static func pixelsOnly(_ data: Data) -> Data? {
        data.withUnsafeBytes { bytes -> Data? in
            guard bytes.count >= 8 else { return nil }
            var keep: [Range<Int>] = []
            var dropped = false
            var index = 8
            while index + 12 <= bytes.count {
                let length = Int(UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
                    | UInt32(bytes[index + 3]))
                let end = index + 12 + length
                guard end <= bytes.count else { return nil }
                let type = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(index + 4)..<(index + 8)]), as: UTF8.self)
                if pixelChunks.contains(type) { keep.append(index..<end) } else { dropped = true }
                if type == "IEND" { break }
                index = end
            }
            guard dropped else { return nil }
            var out = Data(capacity: keep.reduce(8) { $0 + $1.count })
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<8]))
            for range in keep { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range])) }
            return out
        }
    }

    /// The text chunks of a PNG file (tEXt, zTXt, iTXt), in file order.
    package static func texts(_ data: Data) -> [TextEntry] {
        let bytes = [UInt8](data)
        var entries: [TextEntry] = []
        for chunk in scan(bytes) where ["tEXt", "zTXt", "iTXt"].contains(chunk.type) {
            let body = Array(bytes[chunk.range])
            guard let nul = body.firstIndex(of: 0) else { continue }
            let keyword = String(decoding: body[..<nul], as: Unicode.ASCII.self)
            let rest = Array(body[(nul + 1)...])
            switch chunk.type {
            case "tEXt":
                // Latin-1 by the spec; ComfyUI writes ASCII JSON (non-ASCII escaped), so decoding as UTF-8 is safe.
                entries.append(TextEntry(keyword: keyword, text: latin1OrUTF8(rest), compressed: nil))
            case "zTXt":
                guard rest.count >= 1 else { continue }
                entries.append(TextEntry(keyword: keyword, text: nil, compressed: Data(rest.dropFirst())))
            default:  // iTXt: flag, method, language\0, translated keyword\0, text
                guard rest.count >= 2 else { continue }
                let compressedFlag = rest[0] == 1
                var cursor = 2
                for _ in 0..<2 {
                    guard let end = rest[cursor...].firstIndex(of: 0) else { cursor = rest.count; break }
                    cursor = end + 1
                }
                let payload = Array(rest[min(cursor, rest.count)...])
                if compressedFlag {
                    entries.append(TextEntry(keyword: keyword, text: nil, compressed: Data(payload)))
                } else {
                    entries.append(TextEntry(keyword: keyword, text: String(decoding: payload, as: UTF8.self), compressed: nil))
                }
            }
        }
        return entries
    }

    static func latin1OrUTF8(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    /// A copy of a PNG with `tEXt` chunks inserted right after IHDR (as ComfyUI's writer places them).
    package static func insertingText(_ entries: [(keyword: String, text: String)], into data: Data) -> Data {
        let bytes = [UInt8](data)
        guard let header = scan(bytes, limit: 1).first, header.type == "IHDR" else { return data }
        let afterHeader = header.range.upperBound + 4
        var out = Array(bytes[..<afterHeader])
        for entry in entries {
            let body = Array(entry.keyword.utf8) + [0] + Array(entry.text.utf8)
            out += chunk("tEXt", body)
        }
        out += bytes[afterHeader...]
        return Data(out)
    }

    /// Encodes one chunk: length, type, data, CRC-32.
    package static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        let length = UInt32(body.count)
        var out: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        out += typeBytes + body
        let crc = CRC32.checksum(typeBytes + body)
        out += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        return out
    }
}

/// CRC-32 (ISO 3309), as PNG uses.
package enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The checksum of `bytes`.
    package static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
