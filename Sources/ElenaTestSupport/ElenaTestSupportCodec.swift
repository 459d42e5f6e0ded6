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
