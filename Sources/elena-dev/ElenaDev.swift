import ArgumentParser
import ElenaCore
import ElenaTestKit
import ElenaTestSupport
import Foundation

/// Developer tools: regenerate the bundled example images and make benchmark data. Not shipped to users.
@main
struct ElenaDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elena-dev",
        abstract: "Developer tools for elena-run (examples, benchmark data).",
        subcommands: [Examples.self, BenchData.self, BenchCrop.self, MemoryCheck.self, BenchFanvue.self, BenchListSend.self, BenchComfyPool.self, FakeComfyUI.self, MeasureFingerprints.self, BenchFind.self])
}

/// `elena-dev examples <folder>`: the dozen images bundled in examples/demo/images.
struct Examples: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the bundled demo images: ComfyUI-style PNGs (with prompt/workflow chunks) and phone JPEGs.")

    @Argument(help: "Destination folder.")
    var folder: String

    func run() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let prompts = [
            "photo of a woman in a red summer dress, mirror selfie, soft window light",
            "photo of a woman in a green knit sweater, city street, golden hour",
            "photo of a woman in a blue evening gown, hotel lobby, warm light",
            "photo of a woman in a yellow raincoat, rainy window, overcast",
            "photo of a woman in a white linen shirt, beach at sunset",
            "photo of a woman in a black turtleneck, art gallery, soft spotlight",
            "photo of a woman in a denim jacket, coffee shop, morning light",
            "photo of a woman in a floral dress, garden, bright daylight",
        ]
        let sizes = [(832, 1216), (832, 1216), (1024, 1536), (832, 1216), (768, 1152), (1024, 1536), (896, 1152), (832, 1216)]
        for index in 0..<8 {
            let (width, height) = sizes[index]
            let seed = 884_213_377 + index * 7919
            let image = SyntheticImage(width: width, height: height, seed: UInt64(seed))
            let prompt = ComfyMetadata.prompt(seed: seed, positive: prompts[index], width: width, height: height)
            let data = ComfyMetadata.png(try image.encoded(.png), prompt: prompt)
            let name = String(format: "ComfyUI_%05d_.png", index + 1)
            try data.write(to: URL(fileURLWithPath: folder + "/" + name))
            print("wrote \(name) \(width)x\(height) \(data.count) bytes")
        }
        // Phone-style JPEGs: one stored sideways with EXIF orientation 6, both with GPS.
        let upright = SyntheticImage(width: 1024, height: 1536, seed: 42)
        let rotated = upright.pixelsRotatedCounterClockwise()
        let sideways = try ElenaTestSupportCodec.jpeg(rotated.pixels, width: rotated.width, height: rotated.height)
        try ComfyMetadata.jpeg(sideways, orientation: 6).write(to: URL(fileURLWithPath: folder + "/phone_0009.jpg"))
        print("wrote phone_0009.jpg (stored \(rotated.width)x\(rotated.height), EXIF orientation 6, GPS)")
        let plain = try SyntheticImage(width: 1024, height: 1365, seed: 43).encoded(.jpeg, quality: 88)
        try ComfyMetadata.jpeg(plain, orientation: 1).write(to: URL(fileURLWithPath: folder + "/phone_0010.jpg"))
        print("wrote phone_0010.jpg (1024x1365, GPS)")
        // The same bytes twice: one item.
        try FileManager.default.createDirectory(atPath: folder + "/extra", withIntermediateDirectories: true)
        try Data(contentsOf: URL(fileURLWithPath: folder + "/ComfyUI_00001_.png"))
            .write(to: URL(fileURLWithPath: folder + "/extra/ComfyUI_00001_copy.png"))
        print("wrote extra/ComfyUI_00001_copy.png (same bytes as ComfyUI_00001_.png)")
        let small = SyntheticImage(width: 512, height: 768, seed: 99)
        let smallPrompt = ComfyMetadata.prompt(seed: 99, positive: "photo of a woman in a grey hoodie, park", width: 512, height: 768)
        try ComfyMetadata.png(try small.encoded(.png), prompt: smallPrompt).write(to: URL(fileURLWithPath: folder + "/ComfyUI_00012_.png"))
        print("wrote ComfyUI_00012_.png 512x768 (small: flagged by min_height)")
    }
}

/// `elena-dev bench-data <folder> --count N`: many small distinct images.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write N small distinct PNG images for benchmarks.")

    @Argument(help: "Destination folder.")
    var folder: String

    @Option(help: "How many images.")
    var count = 10_000

    @Option(help: "Width of each image.")
    var width = 48

    @Option(help: "Height of each image.")
    var height = 72

    @Flag(help: "Pictures that look different, not one picture with a few pixels changed (for near-duplicate checks).")
    var distinctPictures = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let base = SyntheticImage(width: width, height: height, seed: 7)
        var pixels = base.pixels()
        for index in 0..<count {
            if distinctPictures { pixels = SyntheticImage(width: width, height: height, seed: UInt64(1_000 + index)).pixels() }
            // Distinct bytes per file: stamp the index into the first pixels.
            var value = index
            for byte in 0..<6 {
                pixels[byte] = UInt8(value & 0xFF)
                value >>= 8
            }
            let data = try ElenaTestSupportCodec.png(pixels, width: width, height: height)
            try data.write(to: URL(fileURLWithPath: String(format: "%@/bench_%05d.png", folder, index)))
        }
        print("wrote \(count) images of \(width)x\(height) to \(folder)")
    }
}
