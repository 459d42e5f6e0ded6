import ElenaCore
import Foundation
import Testing

/// Hand-built file headers: every byte here is written out, so the tests do not depend on any encoder.
enum Bytes {
    static func be16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static func be32(_ value: Int) -> [UInt8] { be16(value >> 16) + be16(value & 0xFFFF) }
    static func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
    static func le24(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + [UInt8(value >> 16 & 0xFF)] }
    static func le32(_ value: Int) -> [UInt8] { le16(value & 0xFFFF) + le16(value >> 16) }
    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// One PNG chunk with a correct CRC.
    static func pngChunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        be32(body.count) + ascii(type) + body + be32(Int(CRC32.checksum(ascii(type) + body)))
    }

    /// A PNG: signature, IHDR, `extra` chunks, a token IDAT and IEND.
    static func png(width: Int, height: Int, bitDepth: UInt8 = 8, colorType: UInt8 = 6, extra: [[UInt8]] = []) -> [UInt8] {
        pngSignature + pngChunk("IHDR", be32(width) + be32(height) + [bitDepth, colorType, 0, 0, 0])
            + extra.flatMap { $0 } + pngChunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
            + pngChunk("IEND", [])
    }

    /// A TIFF structure (an EXIF block) holding just an orientation tag.
    static func exifOrientation(_ orientation: Int, bigEndian: Bool) -> [UInt8] {
        if bigEndian {
            return [0x4D, 0x4D, 0x00, 0x2A] + be32(8) + be16(1)
                + be16(0x0112) + be16(3) + be32(1) + be16(orientation) + [0, 0] + be32(0)
        }
        return [0x49, 0x49, 0x2A, 0x00] + le32(8) + le16(1)
            + le16(0x0112) + le16(3) + le32(1) + le16(orientation) + [0, 0] + le32(0)
    }

    static let jfif: [UInt8] = [0xFF, 0xE0] + be16(16) + ascii("JFIF") + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]

    /// A start-of-frame segment (`marker` 0xC0 baseline, 0xC2 progressive).
    static func sof(_ marker: UInt8 = 0xC0, width: Int, height: Int, components: Int = 3, precision: UInt8 = 8) -> [UInt8] {
        [0xFF, marker] + be16(8 + 3 * components) + [precision] + be16(height) + be16(width) + [UInt8(components)]
            + (0..<components).flatMap { [UInt8($0 + 1), 0x11, 0] }
    }

    static func app1Exif(_ tiff: [UInt8]) -> [UInt8] {
        [0xFF, 0xE1] + be16(2 + 6 + tiff.count) + ascii("Exif") + [0, 0] + tiff
    }

    static let eoi: [UInt8] = [0xFF, 0xD9]
}

@Suite struct ImageHeaderTests {
    static func read(_ bytes: [UInt8]) throws -> ImageHeader { try ImageHeader.read(Data(bytes)) }

    static func failure(_ bytes: [UInt8]) -> String? {
        do {
            _ = try ImageHeader.read(Data(bytes))
            return nil
        } catch {
            return error.description
        }
    }

    // MARK: - PNG

    @Test(arguments: [
        (UInt8(8), UInt8(6), "rgba"), (8, 2, "rgb"), (16, 0, "gray"), (8, 3, "palette"), (16, 4, "gray+alpha"),
    ])
    func pngSizeBitDepthAndColour(bitDepth: UInt8, colorType: UInt8, model: String) throws {
        let header = try Self.read(Bytes.png(width: 832, height: 1216, bitDepth: bitDepth, colorType: colorType))
        #expect(header.format == .png)
        #expect(header.width == 832)
        #expect(header.height == 1216)
        #expect(header.bitDepth == Int(bitDepth))
        #expect(header.colorModel == model)
        #expect(header.orientation == 1)
        #expect(header.orientedSize == PixelSize(width: 832, height: 1216))
        #expect(!header.animated)
        #expect(!header.hasMetadata)
    }

    @Test func pngWithAnAnimationControlChunkIsAnimated() throws {
        let acTL = Bytes.pngChunk("acTL", Bytes.be32(12) + Bytes.be32(0))
        let header = try Self.read(Bytes.png(width: 64, height: 48, extra: [acTL]))
        #expect(header.animated)
        #expect(header.width == 64)
    }

    @Test(arguments: [false, true])
    func pngExifOrientationSixSwapsTheOrientedSize(bigEndian: Bool) throws {
        let exif = Bytes.pngChunk("eXIf", Bytes.exifOrientation(6, bigEndian: bigEndian))
        let header = try Self.read(Bytes.png(width: 1200, height: 800, extra: [exif]))
        #expect(header.orientation == 6)
        #expect(header.width == 1200 && header.height == 800, "the stored size is unchanged")
        #expect(header.orientedSize == PixelSize(width: 800, height: 1200))
        #expect(header.hasMetadata)
    }

    @Test func pngTextChunksCountAsMetadata() throws {
        let text = Bytes.pngChunk("tEXt", Bytes.ascii("prompt") + [0] + Bytes.ascii("{}"))
        #expect(try Self.read(Bytes.png(width: 10, height: 10, extra: [text])).hasMetadata)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8, 0, 9])
    func everyOrientationSwapsOnlyFromFive(orientation: Int) throws {
        let exif = Bytes.pngChunk("eXIf", Bytes.exifOrientation(orientation, bigEndian: false))
        let header = try Self.read(Bytes.png(width: 300, height: 200, extra: [exif]))
        let expected = (1...8).contains(orientation) ? orientation : 1
        #expect(header.orientation == expected)
        #expect(header.orientedSize == (expected >= 5 ? PixelSize(width: 200, height: 300) : PixelSize(width: 300, height: 200)))
    }

    @Test func truncatedPNGIsBroken() {
        let bytes = Array(Bytes.png(width: 10, height: 10).prefix(20))
        #expect(Self.failure(bytes) == "broken PNG: the IHDR header is missing or truncated")
    }

    @Test func pngWithZeroWidthIsBroken() {
        #expect(Self.failure(Bytes.png(width: 0, height: 10)) == "broken PNG header: size 0x10")
    }

    // MARK: - JPEG

    @Test func jpegSizeFromTheFrameHeader() throws {
        let header = try Self.read([0xFF, 0xD8] + Bytes.jfif + Bytes.sof(width: 1024, height: 1536) + Bytes.eoi)
        #expect(header.format == .jpeg)
        #expect(header.width == 1024)
        #expect(header.height == 1536)
        #expect(header.bitDepth == 8)
        #expect(header.colorModel == "ycbcr")
        #expect(header.orientation == 1)
        #expect(!header.hasMetadata)
    }

    @Test(arguments: [false, true])
    func jpegExifOrientationSix(bigEndian: Bool) throws {
        let bytes =
            [0xFF, 0xD8] + Bytes.app1Exif(Bytes.exifOrientation(6, bigEndian: bigEndian))
            + Bytes.sof(width: 4032, height: 3024) + Bytes.eoi
        let header = try Self.read(bytes)
        #expect(header.orientation == 6)
        #expect(header.width == 4032 && header.height == 3024)
        #expect(header.orientedSize == PixelSize(width: 3024, height: 4032))
        #expect(header.hasMetadata)
    }

    @Test(arguments: [(UInt8(0xC2), 4, "cmyk"), (0xC0, 1, "gray"), (0xC1, 3, "ycbcr"), (0xC0, 2, nil)])
    func jpegFrameKindsAndComponents(marker: UInt8, components: Int, model: String?) throws {
        let bytes = [0xFF, 0xD8] + Bytes.sof(marker, width: 10, height: 20, components: components) + Bytes.eoi
        let header = try Self.read(bytes)
        #expect(header.width == 10 && header.height == 20)
        #expect(header.colorModel == model)
    }

    @Test func jpegSkipsTablesAndFillBytesBeforeTheFrame() throws {
        let dqt: [UInt8] = [0xFF, 0xDB] + Bytes.be16(67) + [0] + [UInt8](repeating: 1, count: 64)
        let comment: [UInt8] = [0xFF, 0xFE] + Bytes.be16(7) + Bytes.ascii("hello")
        let bytes = [0xFF, 0xD8] + Bytes.jfif + dqt + [0xFF, 0xFF] + comment + Bytes.sof(width: 640, height: 480) + Bytes.eoi
        let header = try Self.read(bytes)
        #expect(header.width == 640 && header.height == 480)
        #expect(header.hasMetadata, "a comment segment is metadata")
    }

    @Test func truncatedJPEGWithoutAFrameHeaderIsBroken() throws {
        let dqt: [UInt8] = [0xFF, 0xDB] + Bytes.be16(67) + [0] + [UInt8](repeating: 1, count: 64)
        let bytes = Array(([0xFF, 0xD8] + Bytes.jfif + dqt + Bytes.sof(width: 640, height: 480)).prefix(40))
        let message = try #require(Self.failure(bytes))
        #expect(message.hasPrefix("broken JPEG"))
        #expect(message == "broken JPEG: no frame header found (truncated file?)")
    }

    @Test func jpegCutInsideTheFrameHeaderIsBroken() {
        let bytes = [0xFF, 0xD8] + Array(Bytes.sof(width: 640, height: 480).prefix(7))
        #expect(Self.failure(bytes) == "broken JPEG: truncated frame header")
    }

    @Test func jpegWithGarbageWhereAMarkerShouldBeIsBroken() {
        #expect(Self.failure([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9A]) == "broken JPEG: bad marker at byte 8")
    }

    @Test func jpegWithZeroSizeIsBroken() {
        #expect(Self.failure([0xFF, 0xD8] + Bytes.sof(width: 0, height: 480) + Bytes.eoi) == "broken JPEG header: size 0x480")
    }

    @Test func jpegWithMoreThanAMebibyteOfMetadataBeforeTheFrame() throws {
        // ICC profiles and XMP packets are split into 64 KiB APPn segments; big ones exceed 1 MiB before SOF.
        let segment: [UInt8] = [0xFF, 0xE2] + Bytes.be16(65_535) + [UInt8](repeating: 0x20, count: 65_533)
        let bytes = [0xFF, 0xD8] + (0..<20).flatMap { _ in segment } + Bytes.sof(width: 800, height: 600) + Bytes.eoi
        let header = try Self.read(bytes)
        #expect(header.width == 800 && header.height == 600)
    }

    // MARK: - Other formats

    @Test func gifSize() throws {
        let header = try Self.read(Bytes.ascii("GIF89a") + Bytes.le16(640) + Bytes.le16(480) + [0xF7, 0, 0, 0, 0, 0])
        #expect(header.format == .gif)
        #expect(header.width == 640 && header.height == 480)
        #expect(!header.animated)
    }

    @Test func gifWithALoopExtensionIsAnimated() throws {
        let loop: [UInt8] = [0x21, 0xFF, 0x0B] + Bytes.ascii("NETSCAPE2.0") + [3, 1, 0, 0, 0]
        let header = try Self.read(Bytes.ascii("GIF87a") + Bytes.le16(32) + Bytes.le16(16) + [0, 0, 0] + loop + [0x3B])
        #expect(header.width == 32 && header.height == 16)
        #expect(header.animated)
    }

    @Test func truncatedGIFIsBroken() {
        #expect(Self.failure(Bytes.ascii("GIF89a") + [1, 0]) == "broken GIF: truncated header")
    }

    static func webp(_ kind: String, _ payload: [UInt8]) -> [UInt8] {
        Bytes.ascii("RIFF") + Bytes.le32(4 + 8 + payload.count) + Bytes.ascii("WEBP") + Bytes.ascii(kind)
            + Bytes.le32(payload.count) + payload
    }

    @Test(arguments: [(UInt8(0x00), false), (0x02, true), (0x10, false), (0x12, true)])
    func webpExtendedSizeAndAnimation(flags: UInt8, animated: Bool) throws {
        let header = try Self.read(Self.webp("VP8X", [flags, 0, 0, 0] + Bytes.le24(1919) + Bytes.le24(1079)))
        #expect(header.format == .webp)
        #expect(header.width == 1920 && header.height == 1080)
        #expect(header.animated == animated)
    }

    @Test func webpLossySize() throws {
        let frame: [UInt8] = [0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A] + Bytes.le16(832) + Bytes.le16(1216) + [0, 0]
        let header = try Self.read(Self.webp("VP8 ", frame))
        #expect(header.width == 832 && header.height == 1216)
    }

    @Test func webpLosslessSize() throws {
        let bits = (400 - 1) | (300 - 1) << 14
        let header = try Self.read(Self.webp("VP8L", [0x2F] + Bytes.le32(bits) + [0, 0, 0, 0, 0]))
        #expect(header.width == 400 && header.height == 300)
    }

    @Test func webpWithAnUnknownChunkIsBroken() {
        #expect(Self.failure(Self.webp("ABCD", [UInt8](repeating: 0, count: 10))) == "broken WebP: unknown chunk 'ABCD'")
    }

    @Test func bmpSizeWithTopDownRows() throws {
        let bytes = Bytes.ascii("BM") + [UInt8](repeating: 0, count: 16) + Bytes.le32(300) + Bytes.le32(-200) + [1, 0, 24, 0]
        let header = try Self.read(bytes)
        #expect(header.format == .bmp)
        #expect(header.width == 300 && header.height == 200)
    }

    @Test func tiffSizeAndOrientation() throws {
        let bytes: [UInt8] =
            [0x49, 0x49, 0x2A, 0x00] + Bytes.le32(8) + Bytes.le16(3)
            + Bytes.le16(0x0100) + Bytes.le16(3) + Bytes.le32(1) + Bytes.le32(100)
            + Bytes.le16(0x0101) + Bytes.le16(4) + Bytes.le32(1) + Bytes.le32(50)
            + Bytes.le16(0x0112) + Bytes.le16(3) + Bytes.le32(1) + Bytes.le32(8) + Bytes.le32(0)
        let header = try Self.read(bytes)
        #expect(header.format == .tiff)
        #expect(header.width == 100 && header.height == 50)
        #expect(header.orientation == 8)
        #expect(header.orientedSize == PixelSize(width: 50, height: 100))
    }

    // MARK: - Not images

    @Test func zeroBytes() {
        #expect(Self.failure([]) == "the file is empty (0 bytes)")
    }

    @Test func aTextFileLooksLikeText() throws {
        let message = try #require(Self.failure(Bytes.ascii("hello world, this is not an image\n")))
        #expect(message.contains("looks like text"))
        #expect(message == "not an image: it looks like text (\"hello world, this is not…\")")
    }

    @Test func shortTextIsShownWhole() {
        #expect(Self.failure(Bytes.ascii("version: 1\n")) == "not an image: it looks like text (\"version: 1 \")")
    }

    @Test func unknownBinaryShowsTheSignature() {
        #expect(Self.failure([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) == "not an image: unknown file signature 00 01 02 03 04 05 06 07")
    }
}
