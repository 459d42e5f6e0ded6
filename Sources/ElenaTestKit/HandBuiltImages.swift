package import Foundation

/// Images written byte by byte, for the formats no encoder here produces.
package enum HandBuiltImages {
    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    /// A baseline CMYK JPEG (four components, Adobe marker), built by hand: every block has a zero DC difference
    /// and ends at once, so the whole entropy-coded scan is one zero byte per 8×8 MCU of four blocks.
    package static func cmykJPEG(width: Int, height: Int) -> Data {
        func segment(_ marker: UInt8, _ body: [UInt8]) -> [UInt8] { [0xFF, marker] + be16(body.count + 2) + body }
        var bytes: [UInt8] = [0xFF, 0xD8]
        // APP14 "Adobe", transform 0: the four components are plain CMYK (as Photoshop writes them, inverted).
        bytes += segment(0xEE, Array("Adobe".utf8) + [0, 100, 0, 0, 0, 0, 0])
        bytes += segment(0xDB, [0x00] + [UInt8](repeating: 1, count: 64))
        bytes += segment(0xC0, [8] + be16(height) + be16(width) + [4] + (1...4).flatMap { [UInt8($0), 0x11, 0] })
        // One-symbol Huffman tables: DC category 0 and AC end-of-block, each the one-bit code "0".
        let oneSymbol: [UInt8] = [1] + [UInt8](repeating: 0, count: 15) + [0x00]
        bytes += segment(0xC4, [0x00] + oneSymbol + [0x10] + oneSymbol)
        bytes += segment(0xDA, [4] + (1...4).flatMap { [UInt8($0), 0x00] } + [0, 63, 0])
        bytes += [UInt8](repeating: 0, count: ((width + 7) / 8) * ((height + 7) / 8))
        bytes += [0xFF, 0xD9]
        return Data(bytes)
    }
}
