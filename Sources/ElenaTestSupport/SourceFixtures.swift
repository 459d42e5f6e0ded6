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
