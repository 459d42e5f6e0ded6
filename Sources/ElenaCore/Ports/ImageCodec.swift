package import Foundation

/// Limits that protect a run from hostile or broken images.
package struct DecodeLimits: Sendable, Hashable {
    /// Largest accepted width × height (decompression-bomb guard).
    package var maxPixels: Int
    /// Largest accepted width or height.
    package var maxSide: Int

    /// 100 megapixels and 30,000 px a side: far above any generated image, far below what would exhaust memory.
    package static let standard = DecodeLimits(maxPixels: 100_000_000, maxSide: 30_000)

    /// Creates limits.
    package init(maxPixels: Int, maxSide: Int) {
        self.maxPixels = maxPixels
        self.maxSide = maxSide
    }
}

/// An image in memory, oriented (EXIF applied), 8-bit colour. Owned by the codec that made it.
package protocol DecodedImage: AnyObject, Sendable {
    /// Width in pixels.
    var width: Int { get }
    /// Height in pixels.
    var height: Int { get }
    /// Encodes a rectangle of the image with no metadata at all.
    /// - Parameters:
    ///   - rect: the part to keep; must lie inside the image.
    ///   - format: JPEG or PNG.
    ///   - quality: JPEG quality 1–100 (ignored for PNG).
    func encode(_ rect: PixelRect, format: ImageFormat, quality: Int) throws -> Data
    /// A resized copy (thumbnails, detection input).
    func resized(to size: PixelSize, smooth: Bool) throws -> any DecodedImage
    /// A copy with the rows above `line` dimmed and a visible cut line (review overlays).
    func withCutLine(at line: Int) throws -> any DecodedImage
    /// The perceptual fingerprint of the picture, or of the rectangle `rect` of it (a crop, without encoding it).
    func fingerprint(_ kind: FingerprintKind, of rect: PixelRect?) throws -> Fingerprint
    /// An edited copy: every sample times `contrast` plus `brightness`, mirrored left to right, with a caption
    /// written across the lower part (what a repost or a screenshot does to a picture; the fingerprint measurement).
    func edited(contrast: Double, brightness: Double, mirror: Bool, caption: String?) throws -> any DecodedImage
}

extension DecodedImage {
    /// The perceptual fingerprint of the whole picture.
    package func fingerprint(_ kind: FingerprintKind) throws -> Fingerprint { try fingerprint(kind, of: nil) }

    /// The image's size.
    package var size: PixelSize { PixelSize(width: width, height: height) }
}

/// Decoding and encoding of images. The real implementation calls OpenCV through the CVision shim.
package protocol ImageCodec: Sendable {
    /// A name and version for cache keys and `doctor`, e.g. `opencv 4.6.0`.
    var identity: String { get }
    /// Decodes bytes, applying the header's EXIF orientation and normalising to 8-bit colour.
    /// - Parameters:
    ///   - data: the encoded file.
    ///   - header: what `ImageHeader.read` found (format, orientation, stored size).
    ///   - limits: size limits checked before any pixel is decoded.
    func decode(_ data: Data, header: ImageHeader, limits: DecodeLimits) throws -> any DecodedImage
    /// Inflates zlib data (compressed PNG text chunks), refusing output above `maxOutput` bytes.
    func inflate(_ data: Data, maxOutput: Int) throws -> Data
}

/// Why an image could not be decoded or encoded, for the per-item error line.
package struct ImageCodecError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    package enum Kind: String, Sendable {
        case undecodable, tooLarge, unsupported, encode, internalError
    }

    /// The kind.
    package var kind: Kind
    /// One sentence.
    package var message: String

    /// Creates an error.
    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The sentence.
    package var description: String { message }
}

/// Finds faces and their landmarks.
package protocol FaceDetector: Sendable {
    /// Detector and model identity, part of the detect stage's cache key.
    var identity: String { get }
    /// Finds faces in an oriented image; coordinates are in that image's pixels.
    func detect(in image: any DecodedImage) throws -> [Face]
}

/// Measures whose a face is: an embedding per face (L2-normalised, so the cosine of two faces is their dot product).
package protocol FaceIdentifier: Sendable {
    /// The model's identity, part of the cache key of what it measures.
    var identity: String { get }
    /// The embedding of `face` (which carries its five alignment points) in `image`.
    func embed(_ face: Face, in image: any DecodedImage) throws -> [Float]
}
