import ElenaCore
import Foundation
import Testing

@Suite struct PNGChunksTests {
    static let plain = Bytes.png(width: 16, height: 8)

    @Test func crc32CheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("IEND".utf8)) == 0xAE42_6082)
    }

    @Test func chunkEncodesLengthTypeBodyAndCRC() {
        #expect(PNGChunks.chunk("IEND", []) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        let body = [UInt8](repeating: 7, count: 300)
        let encoded = PNGChunks.chunk("tEXt", body)
        #expect(Array(encoded.prefix(8)) == [0, 0, 1, 0x2C, 0x74, 0x45, 0x58, 0x74])
        #expect(encoded.count == 12 + 300)
        #expect(encoded == Bytes.pngChunk("tEXt", body))
    }

    @Test func scanListsChunksInOrderUpToIEND() {
        let chunks = PNGChunks.scan(Self.plain + [1, 2, 3])
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        #expect(chunks[0].range == 16..<29)
        #expect(PNGChunks.scan(Self.plain, limit: 1).map(\.type) == ["IHDR"])
        #expect(PNGChunks.scan(Array("not a png".utf8)).isEmpty)
    }

    @Test func scanStopsAtAChunkThatRunsPastTheEnd() {
        let truncated = Array(Self.plain.prefix(Self.plain.count - 20))
        #expect(PNGChunks.scan(truncated).map(\.type) == ["IHDR"])
    }

    @Test func insertedTextReadsBack() throws {
        let prompt = #"{"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}"#
        let workflow = #"{"nodes": [], "note": "caf\u00e9"}"#
        let data = PNGChunks.insertingText([("prompt", prompt), ("workflow", workflow)], into: Data(Self.plain))
        let texts = PNGChunks.texts(data)
        #expect(texts.map(\.keyword) == ["prompt", "workflow"])
        #expect(texts.map(\.text) == [prompt, workflow])
        #expect(texts.allSatisfy { $0.compressed == nil })
        // Placed right after IHDR, everything else untouched, and still a readable image.
        let bytes = [UInt8](data)
        #expect(PNGChunks.scan(bytes).map(\.type) == ["IHDR", "tEXt", "tEXt", "IDAT", "IEND"])
        #expect(Array(bytes.prefix(33)) == Array(Self.plain.prefix(33)))
        #expect(Array(bytes.suffix(Self.plain.count - 33)) == Array(Self.plain.suffix(Self.plain.count - 33)))
        let header = try ImageHeader.read(data)
        #expect(header.width == 16 && header.hasMetadata)
    }

    @Test func insertedChunksCarryAValidCRC() {
        let bytes = [UInt8](PNGChunks.insertingText([("k", "v")], into: Data(Self.plain)))
        for chunk in PNGChunks.scan(bytes) {
            let typeAndBody = Array(bytes[(chunk.range.lowerBound - 4)..<chunk.range.upperBound])
            let stored = bytes[chunk.range.upperBound..<(chunk.range.upperBound + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(stored == CRC32.checksum(typeAndBody), "\(chunk.type)")
        }
    }

    @Test func insertingIntoSomethingThatIsNotAPNGChangesNothing() {
        let data = Data("plain text".utf8)
        #expect(PNGChunks.insertingText([("k", "v")], into: data) == data)
    }

    @Test func iTXtUncompressedIsReadAsUTF8() throws {
        let body =
            Array("Description".utf8) + [0, 0, 0] + Array("fr".utf8) + [0] + Array("Légende".utf8) + [0]
            + Array("Héllo ✓ 😀".utf8)
        let data = Data(Self.withChunks([PNGChunks.chunk("iTXt", body)]))
        let texts = PNGChunks.texts(data)
        try #require(texts.count == 1)
        #expect(texts[0].keyword == "Description")
        #expect(texts[0].text == "Héllo ✓ 😀")
        #expect(texts[0].compressed == nil)
    }

    @Test func iTXtCompressedGivesTheCompressedBytes() throws {
        let payload: [UInt8] = [0x78, 0x9C, 0x01, 0x02, 0x03]
        let body = Array("prompt".utf8) + [0, 1, 0] + [0] + [0] + payload
        let texts = PNGChunks.texts(Data(Self.withChunks([PNGChunks.chunk("iTXt", body)])))
        try #require(texts.count == 1)
        #expect(texts[0].keyword == "prompt")
        #expect(texts[0].text == nil)
        #expect(texts[0].compressed == Data(payload))
    }

    @Test func zTXtGivesTheCompressedBytes() throws {
        let payload: [UInt8] = [0x78, 0x9C, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x06, 0x2C, 0x02, 0x15]
        let body = Array("workflow".utf8) + [0, 0] + payload
        let texts = PNGChunks.texts(Data(Self.withChunks([PNGChunks.chunk("zTXt", body)])))
        try #require(texts.count == 1)
        #expect(texts[0].keyword == "workflow")
        #expect(texts[0].text == nil)
        #expect(texts[0].compressed == Data(payload))
    }

    @Test func tEXtInLatin1IsDecoded() {
        let body = Array("Comment".utf8) + [0] + [0x63, 0x61, 0x66, 0xE9]  // "café" in Latin-1
        let texts = PNGChunks.texts(Data(Self.withChunks([PNGChunks.chunk("tEXt", body)])))
        #expect(texts.first?.text == "café")
    }

    @Test func textChunksWithoutAKeywordTerminatorAreSkipped() {
        let broken = PNGChunks.chunk("tEXt", Array("no terminator".utf8))
        let good = PNGChunks.chunk("tEXt", Array("k".utf8) + [0] + Array("v".utf8))
        let texts = PNGChunks.texts(Data(Self.withChunks([broken, good])))
        #expect(texts.map(\.keyword) == ["k"])
        #expect(texts.first?.text == "v")
    }

    @Test func textsOfANonPNGAreEmpty() {
        #expect(PNGChunks.texts(Data([0xFF, 0xD8, 0xFF, 0xD9])).isEmpty)
        #expect(PNGChunks.texts(Data()).isEmpty)
    }

    static func withChunks(_ chunks: [[UInt8]]) -> [UInt8] { Bytes.png(width: 4, height: 4, extra: chunks) }
}
