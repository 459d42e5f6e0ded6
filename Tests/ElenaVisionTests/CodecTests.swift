import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import ElenaVision
import Foundation
import Testing

/// The OpenCV codec on real encoded images: orientation, normalisation, metadata stripping, bad input.
@Suite struct CodecTests {
    let codec = OpenCVCodec()

    func decode(_ data: Data) throws -> any DecodedImage {
        try codec.decode(data, header: try ImageHeader.read(data), limits: .standard)
    }

    /// Every sample of the hand-built Adobe CMYK JPEG is 128, i.e. half of each ink stored inverted, as Photoshop
    /// writes CMYK: converted with K, each of B, G and R is k - (255 - c) * k / 256 = 128 - 63 = 65, a neutral grey.
    /// Read as if not inverted it would be a light grey (190), and channels mixed up would not be equal.
    @Test func aCMYKJPEGDecodesToTheGreyItsInksMake() throws {
        let image = try decode(HandBuiltImages.cmykJPEG(width: 64, height: 48))
        #expect(image.size == PixelSize(width: 64, height: 48))
        let pixels = try OpenCVCodec.pixels(of: image)
        #expect(pixels.count == 64 * 48 * 3)
        #expect(Set(pixels) == [65], "\(Set(pixels).sorted().prefix(8))")
    }

    @Test func exifOrientationIsAppliedAndEveryTagIsDropped() throws {
        let upright = SyntheticImage(width: 120, height: 180, seed: 5)
        let rotated = upright.pixelsRotatedCounterClockwise()
        let stored = try ElenaTestSupportCodec.jpeg(rotated.pixels, width: rotated.width, height: rotated.height, quality: 95)
        let phone = ComfyMetadata.jpeg(stored, orientation: 6)
        #expect(MetadataInspector.metadata(in: phone).contains { $0.hasPrefix("APP1 Exif") })
        let header = try ImageHeader.read(phone)
        #expect(header.orientation == 6)
        #expect(header.orientedSize == PixelSize(width: 120, height: 180))

        let image = try decode(phone)
        #expect(image.size == PixelSize(width: 120, height: 180), "displayed upright")
        let output = try image.encode(PixelRect(x: 0, y: 60, width: 120, height: 120), format: .jpeg, quality: 90)
        #expect(MetadataInspector.metadata(in: output).isEmpty, "no EXIF, no GPS")
        #expect(try ImageHeader.read(output).orientation == 1)

        // Pixel for pixel, the oriented image is the upright picture (up to JPEG noise), not a mirror or a 270° turn.
        let expected = upright.pixels()
        let actual = try OpenCVCodec.pixels(of: image)
        #expect(actual.count == expected.count)
        let difference = zip(actual, expected).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / max(1, actual.count)
        #expect(difference < 6, "mean difference \(difference)")
        let mirrored = try OpenCVCodec.pixels(of: try decode(ComfyMetadata.jpeg(stored, orientation: 8)))
        let wrong = zip(mirrored, expected).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / max(1, mirrored.count)
        #expect(wrong > difference * 3, "orientation 8 must give a different picture")
    }

    @Test func pngTextChunksNeverSurviveTheCrop() throws {
        let prompt = ComfyMetadata.prompt(seed: 1, positive: "secret prompt", width: 64, height: 96)
        let source = ComfyMetadata.png(try SyntheticImage(width: 64, height: 96, seed: 1).encoded(.png), prompt: prompt)
        #expect(PNGChunks.texts(source).map(\.keyword) == ["prompt", "workflow"])
        let image = try decode(source)
        for format in [ImageFormat.png, .jpeg] {
            let output = try image.encode(PixelRect(x: 0, y: 10, width: 64, height: 80), format: format, quality: 90)
            #expect(MetadataInspector.metadata(in: output).isEmpty, "\(format)")
            #expect(!String(decoding: output, as: UTF8.self).contains("secret prompt"))
        }
    }

    @Test func encodingIsDeterministic() throws {
        let image = try decode(try SyntheticImage(width: 80, height: 120, seed: 9).encoded(.png))
        let rect = PixelRect(x: 5, y: 30, width: 70, height: 80)
        #expect(try image.encode(rect, format: .jpeg, quality: 92) == image.encode(rect, format: .jpeg, quality: 92))
        #expect(try decode(try image.encode(rect, format: .png, quality: 0)).size == PixelSize(width: 70, height: 80))
    }

    @Test func badInputGivesAClearError() throws {
        let truncated = try SourceFixtures.truncatedJPEG()
        let error = #expect(throws: ImageCodecError.self) { _ = try decode(truncated) }
        #expect(error?.kind == .undecodable)
        #expect(error?.message.contains("truncated") == true, "\(error?.message ?? "")")
        let pngError = #expect(throws: ImageCodecError.self) { _ = try decode(try SourceFixtures.truncatedPNG()) }
        #expect(pngError?.kind == .undecodable)
        // A header claiming a huge image is refused before any pixel is decoded.
        var bomb = [UInt8](try SyntheticImage(width: 16, height: 16, seed: 1).encoded(.png))
        bomb[16...23] = [0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30]  // 30000 x 30000 in IHDR
        let header = try ImageHeader.read(Data(bomb))
        let bombError = #expect(throws: ImageCodecError.self) {
            _ = try codec.decode(Data(bomb), header: header, limits: .standard)
        }
        #expect(bombError?.kind == .tooLarge)
    }

    @Test func cropsOutsideTheImageAreRefused() throws {
        let image = try decode(try SyntheticImage(width: 40, height: 60, seed: 2).encoded(.png))
        #expect(throws: ImageCodecError.self) {
            _ = try image.encode(PixelRect(x: 0, y: 50, width: 40, height: 20), format: .jpeg, quality: 90)
        }
    }

    @Test func compressedTextChunksInflate() throws {
        let text = Array(#"{"3":{"class_type":"KSampler","inputs":{"seed":42}}}"#.utf8)
        let stream = SourceFixtures.storedZlib(text)
        #expect(try codec.inflate(Data(stream), maxOutput: 1000) == Data(text))
        #expect(throws: ImageCodecError.self) { _ = try codec.inflate(Data(stream), maxOutput: 10) }
        #expect(throws: ImageCodecError.self) { _ = try codec.inflate(Data([0x78, 0x01, 0xFF, 0x00]), maxOutput: 1000) }
    }
}
