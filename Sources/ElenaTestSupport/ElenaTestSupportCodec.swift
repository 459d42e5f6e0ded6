import ElenaCore
import ElenaVision
package import Foundation

/// Encoding of raw pixels for fixtures.
package enum ElenaTestSupportCodec {
    /// PNG from packed BGR pixels.
    package static func png(_ pixels: [UInt8], width: Int, height: Int) throws -> Data {
        try OpenCVCodec.image(bgr: pixels, width: width, height: height)
            .encode(PixelRect(x: 0, y: 0, width: width, height: height), format: .png, quality: 0)
    }

    /// JPEG from packed BGR pixels.
    package static func jpeg(_ pixels: [UInt8], width: Int, height: Int, quality: Int = 88) throws -> Data {
        try OpenCVCodec.image(bgr: pixels, width: width, height: height)
            .encode(PixelRect(x: 0, y: 0, width: width, height: height), format: .jpeg, quality: quality)
    }
}

/// Copies of a picture as it meets them on its way (a repost, a download, a screenshot): other bytes, the same
/// picture. And the real photographs `make test` fetches, to make them from.
package enum PictureCopies {
    /// `data` decoded, scaled by `scale`, edited, and encoded again as JPEG at `quality`.
    package static func copy(
        of data: Data, scale: Double = 1, quality: Int = 80, mirror: Bool = false, caption: String? = nil, brightness: Double = 0
    ) throws -> Data {
        let codec = OpenCVCodec()
        var image = try codec.decode(data, header: try ImageHeader.read(data), limits: .standard)
        if scale != 1 {
            image = try image.resized(
                to: PixelSize(width: Int(Double(image.width) * scale), height: Int(Double(image.height) * scale)), smooth: scale < 1)
        }
        if mirror || caption != nil || brightness != 0 {
            image = try image.edited(contrast: 1, brightness: brightness, mirror: mirror, caption: caption)
        }
        return try image.encode(PixelRect(x: 0, y: 0, width: image.width, height: image.height), format: .jpeg, quality: quality)
    }
}
