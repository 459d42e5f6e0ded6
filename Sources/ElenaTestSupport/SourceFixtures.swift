import ElenaCore
package import ElenaTestKit
package import Foundation

/// Writes source folders of synthetic ComfyUI images (and broken files) for tests.
package enum SourceFixtures {
    /// Writes `count` distinct ComfyUI-style PNGs named `ComfyUI_00001_.png`… into `folder`.
    /// - Returns: the file names.
    @discardableResult
    package static func writeImages(
        into folder: TemporaryDirectory, subfolder: String = "src", count: Int, width: Int = 160, height: Int = 240,
        firstSeed: Int = 1000
    ) throws -> [String] {
        var names: [String] = []
        for index in 0..<count {
            let seed = firstSeed + index
            let image = SyntheticImage(width: width, height: height, seed: UInt64(seed))
            let prompt = ComfyMetadata.prompt(
                seed: seed, positive: "photo of a woman in a dress, scene \(index)", width: width, height: height)
            let name = String(format: "ComfyUI_%05d_.png", index + 1)
            try folder.write(ComfyMetadata.png(try image.encoded(.png), prompt: prompt), to: "\(subfolder)/\(name)")
            names.append(name)
        }
        return names
    }

    /// A sound PNG carrying a colour profile (iCCP) libpng complains about as it decodes ("iCCP: too short"): the
    /// kind of file that printed a libpng warning without its name.
    package static func pngWithBrokenColourProfile(seed: UInt64 = 79) throws -> Data {
        let png = try SyntheticImage(width: 120, height: 180, seed: seed).encoded(.png)
        let zlib = storedZlib([UInt8](repeating: 0, count: 20))
        let body = Array("iCCP".utf8) + Array("icc".utf8) + [0, 0] + zlib
        let length = UInt32(body.count - 4)
        let crc = CRC32.checksum(body)
        var chunk: [UInt8] = [24, 16, 8, 0].map { UInt8((length >> $0) & 0xFF) } + body
        chunk += [24, 16, 8, 0].map { UInt8((crc >> $0) & 0xFF) }
        // After the signature (8 bytes) and IHDR (25 bytes).
        return png.prefix(33) + Data(chunk) + png.dropFirst(33)
    }

    /// `bytes` as a zlib stream of one stored (uncompressed) block: header, final-block flag, LEN, NLEN, the bytes,
    /// Adler-32.
    package static func storedZlib(_ bytes: [UInt8]) -> [UInt8] {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        let adler = b << 16 | a
        var stream: [UInt8] = [0x78, 0x01, 0x01, UInt8(bytes.count & 0xFF), UInt8(bytes.count >> 8)]
        stream += [UInt8(~bytes.count & 0xFF), UInt8((~bytes.count >> 8) & 0xFF)] + bytes
        return stream + [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)]
    }

    /// A PNG cut in half (header intact, data truncated).
    package static func truncatedPNG(seed: UInt64 = 77) throws -> Data {
        let data = try SyntheticImage(width: 120, height: 180, seed: seed).encoded(.png)
        return data.prefix(data.count / 2)
    }

    /// A JPEG cut before its end.
    package static func truncatedJPEG(seed: UInt64 = 78) throws -> Data {
        let data = try SyntheticImage(width: 120, height: 180, seed: seed).encoded(.jpeg)
        return data.prefix(data.count * 2 / 3)
    }
}
