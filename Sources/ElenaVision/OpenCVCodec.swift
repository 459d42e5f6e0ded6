internal import CVisionLoader
package import ElenaCore
package import Foundation

/// `ImageCodec` over OpenCV through the CVision shim. The only module that touches unsafe pointers.
package struct OpenCVCodec: ImageCodec {
    /// Creates the codec.
    package init() {}

    /// `opencv 4.6.0`.
    package var identity: String { "opencv \(Self.version)" }

    /// The linked OpenCV version.
    package static var version: String { String(cString: cvision_opencv_version()) }

    static func error(_ status: cvision_status) -> ImageCodecError {
        let message = withUnsafeBytes(of: status.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let kind: ImageCodecError.Kind =
            switch Int(status.code) {
            case Int(CVISION_ERR_DECODE): .undecodable
            case Int(CVISION_ERR_TOO_LARGE): .tooLarge
            case Int(CVISION_ERR_ENCODE): .encode
            case Int(CVISION_ERR_ARGUMENT): .unsupported
            default: .internalError
            }
        return ImageCodecError(kind, message.isEmpty ? "OpenCV failed (code \(status.code))" : message)
    }

    package func decode(_ data: Data, header: ImageHeader, limits: DecodeLimits) throws -> any DecodedImage {
        guard header.width <= limits.maxSide, header.height <= limits.maxSide,
            header.width * header.height <= limits.maxPixels
        else {
            throw ImageCodecError(.tooLarge, "\(header.width)x\(header.height) is above the size limit")
        }
        // libpng reports broken files on stderr by itself; catch them first with a clear message instead.
        if header.format == .png,
            let problem = PNGChunks.structuralProblem(data, crc: { cvision_crc32(0, $0.bindMemory(to: UInt8.self).baseAddress, $0.count) })
        {
            throw ImageCodecError(.undecodable, problem)
        }
        // Nor does it see the chunks it would complain about on stderr without the file's name (a bad colour profile).
        let pixels = header.format == .png ? PNGChunks.pixelsOnly(data) ?? data : data
        var status = cvision_status()
        var image: OpaquePointer?
        let code = pixels.withUnsafeBytes { raw in
            cvision_decode(
                raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(header.orientation),
                Int64(limits.maxPixels), &image, &status)
        }
        guard code == CVISION_OK, let image else { throw Self.error(status) }
        return OpenCVImage(handle: image)
    }

    package func inflate(_ data: Data, maxOutput: Int) throws -> Data {
        var status = cvision_status()
        var buffer = cvision_buffer()
        let code = data.withUnsafeBytes { raw in
            cvision_inflate(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, maxOutput, &buffer, &status)
        }
        defer { cvision_buffer_free(&buffer) }
        guard code == CVISION_OK else { throw Self.error(status) }
        guard let bytes = buffer.data else { return Data() }
        return Data(bytes: bytes, count: buffer.length)
    }

    /// Packed BGR pixels of an image this codec made (tests and benchmarks).
    package static func pixels(of image: any DecodedImage) throws -> [UInt8] {
        guard let image = image as? OpenCVImage else { throw ImageCodecError(.unsupported, "not an OpenCV image") }
        return try image.pixels()
    }

    /// An image built from packed BGR pixels (synthetic images for examples and benchmarks).
    package static func image(bgr pixels: [UInt8], width: Int, height: Int) throws -> any DecodedImage {
        var status = cvision_status()
        var image: OpaquePointer?
        let code = pixels.withUnsafeBufferPointer { buffer in
            cvision_image_from_bgr(buffer.baseAddress, Int32(width), Int32(height), Int32(width * 3), &image, &status)
        }
        guard code == CVISION_OK, let image else { throw error(status) }
        return OpenCVImage(handle: image)
    }
}

/// A decoded image owned by the shim; freed when the last reference goes.
final class OpenCVImage: DecodedImage, @unchecked Sendable {
    // Safe: the handle is never mutated after creation, and the shim's read-only calls
    // (encode, resize, draw_cut, width, height) do not modify the image, so concurrent use is fine.
    private let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { cvision_image_destroy(handle) }

    var width: Int { Int(cvision_image_width(handle)) }
    var height: Int { Int(cvision_image_height(handle)) }

    func encode(_ rect: PixelRect, format: ImageFormat, quality: Int) throws -> Data {
        var status = cvision_status()
        var buffer = cvision_buffer()
        let code = cvision_encode(
            handle, Int32(rect.x), Int32(rect.y), Int32(rect.width), Int32(rect.height),
            format == .jpeg ? Int32(CVISION_FORMAT_JPEG) : Int32(CVISION_FORMAT_PNG), Int32(quality), &buffer, &status)
        defer { cvision_buffer_free(&buffer) }
        guard code == CVISION_OK, let bytes = buffer.data else { throw OpenCVCodec.error(status) }
        return Data(bytes: bytes, count: buffer.length)
    }

    func resized(to size: PixelSize, smooth: Bool) throws -> any DecodedImage {
        var status = cvision_status()
        var image: OpaquePointer?
        let code = cvision_resize(handle, Int32(size.width), Int32(size.height), smooth ? 0 : 1, &image, &status)
        guard code == CVISION_OK, let image else { throw OpenCVCodec.error(status) }
        return OpenCVImage(handle: image)
    }

    func withCutLine(at line: Int) throws -> any DecodedImage {
        var status = cvision_status()
        var image: OpaquePointer?
        let code = cvision_draw_cut(handle, Int32(line), 0.55, 40, 40, 230, &image, &status)
        guard code == CVISION_OK, let image else { throw OpenCVCodec.error(status) }
        return OpenCVImage(handle: image)
    }

    func fingerprint(_ kind: FingerprintKind, of rect: PixelRect?) throws -> Fingerprint {
        let code: Int32
        switch kind {
        case .phash: code = Int32(CVISION_HASH_PHASH)
        case .average: code = Int32(CVISION_HASH_AVERAGE)
        case .blockMean: code = Int32(CVISION_HASH_BLOCK_MEAN)
        case .marrHildreth: code = Int32(CVISION_HASH_MARR_HILDRETH)
        case .chroma: code = Int32(CVISION_HASH_CHROMA)
        }
        var status = cvision_status()
        var bytes = [UInt8](repeating: 0, count: 72)
        var length = 0
        let result = bytes.withUnsafeMutableBufferPointer {
            cvision_fingerprint(
                handle, code, Int32(rect?.x ?? 0), Int32(rect?.y ?? 0), Int32(rect?.width ?? 0), Int32(rect?.height ?? 0),
                $0.baseAddress, $0.count, &length, &status)
        }
        guard result == CVISION_OK, length == kind.bits / 8 else { throw OpenCVCodec.error(status) }
        return Fingerprint(kind: kind, bytes: Array(bytes.prefix(length)))
    }

    func edited(contrast: Double, brightness: Double, mirror: Bool, caption: String?) throws -> any DecodedImage {
        var status = cvision_status()
        var image: OpaquePointer?
        let code = cvision_edit(handle, contrast, brightness, mirror ? 1 : 0, caption, &image, &status)
        guard code == CVISION_OK, let image else { throw OpenCVCodec.error(status) }
        return OpenCVImage(handle: image)
    }

    /// Runs `body` with the shim handle (for the face detector).
    func withHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(handle) }

    /// Packed BGR pixels (tests).
    func pixels() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        var status = cvision_status()
        let code = out.withUnsafeMutableBufferPointer { cvision_image_copy_bgr(handle, $0.baseAddress, $0.count, &status) }
        guard code == CVISION_OK else { throw OpenCVCodec.error(status) }
        return out
    }
}
