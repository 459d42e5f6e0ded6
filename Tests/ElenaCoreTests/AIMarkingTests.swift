import ElenaCore
import Foundation
import Testing

@Suite struct AIMarkingTests {
    /// A tiny but structurally valid JPEG: SOI, JFIF APP0, SOF0 (8x8), EOI — enough for the header reader.
    static let jpeg: [UInt8] =
        [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        + [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x08, 0x00, 0x08, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]
        + [0xFF, 0xD9]

    @Test func aJPEGGetsOneXMPSegmentAfterJFIF() throws {
        let marked = [UInt8](AIMarking.marked(Data(Self.jpeg)))
        #expect(Array(marked[2...3]) == [0xFF, 0xE0], "JFIF stays first")
        let xmpAt = 4 + 16
        #expect(Array(marked[xmpAt...(xmpAt + 1)]) == [0xFF, 0xE1])
        let text = String(decoding: marked, as: UTF8.self)
        #expect(text.contains("http://ns.adobe.com/xap/1.0/"))
        #expect(text.contains("<Iptc4xmpExt:DigitalSourceType>\(AIMarking.digitalSourceType)</Iptc4xmpExt:DigitalSourceType>"))
        let header = try ImageHeader.read(Data(marked))
        #expect(header.width == 8 && header.height == 8)
        #expect(header.orientation == 1, "an XMP APP1 is not mistaken for EXIF")
    }

    @Test func aPNGGetsAnITXtChunkRightAfterIHDR() throws {
        let ihdr = PNGChunks.chunk("IHDR", [0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0, 0, 0])
        let png = Data(PNGChunks.signature + ihdr + PNGChunks.chunk("IDAT", [1, 2, 3]) + PNGChunks.chunk("IEND", []))
        let marked = AIMarking.marked(png)
        #expect(PNGChunks.scan([UInt8](marked)).map(\.type) == ["IHDR", "iTXt", "IDAT", "IEND"])
        let entry = try #require(PNGChunks.texts(marked).first)
        #expect(entry.keyword == "XML:com.adobe.xmp")
        #expect(entry.text?.contains("trainedAlgorithmicMedia") == true)
    }

    @Test func otherBytesAreLeftAlone() {
        let text = Data("not an image".utf8)
        #expect(AIMarking.marked(text) == text)
    }
}
