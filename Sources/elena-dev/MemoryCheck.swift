import ArgumentParser
import ElenaCore
import ElenaVision
import Foundation

/// `elena-dev memory-check`: many decode + detect + crop + encode cycles in one process; prints resident memory
/// after a warm-up and at the end, and fails when it grew by more than the limit.
struct MemoryCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory-check",
        abstract: "Crop one image many times in one process and report whether resident memory stays bounded.")

    @Argument(help: "The image to crop (a photo with a face).")
    var image: String

    @Option(help: "Folder with the face models.")
    var models: String

    @Option(help: "Cycles after the warm-up.")
    var count = 1000

    @Option(help: "Allowed growth of resident memory, in MiB.")
    var limit = 16.0

    static func residentMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    func run() throws {
        MediaPipeFaceDetector.setOpenCVThreads(1)
        let codec = OpenCVCodec()
        let detector = try MediaPipeFaceDetector(modelsFolder: models)
        let source = try Data(contentsOf: URL(fileURLWithPath: image))
        let full = try codec.decode(source, header: try ImageHeader.read(source), limits: .standard)
        let small = try full.resized(to: PixelSize(width: 512, height: 768), smooth: true)
        let input = try small.encode(PixelRect(x: 0, y: 0, width: 512, height: 768), format: .jpeg, quality: 90)
        let header = try ImageHeader.read(input)
        var faces = 0
        func cycle() throws {
            let decoded = try codec.decode(input, header: header, limits: .standard)
            let found = try detector.detect(in: decoded)
            faces += found.count
            let decision = try CropGeometry.decide(size: decoded.size, faces: found, spec: CropSpec(strategy: .noFace))
            _ = try decoded.encode(decision.rect, format: .jpeg, quality: 92)
        }
        for _ in 0..<100 { try cycle() }
        let warm = Self.residentMegabytes()
        for _ in 0..<count { try cycle() }
        let after = Self.residentMegabytes()
        print(String(format: "rss_warm_mb %.1f", warm))
        print(String(format: "rss_after_mb %.1f", after))
        print("cycles \(count) faces \(faces)")
        if after - warm > limit {
            print(String(format: "resident memory grew by %.1f MiB over %d crops (limit %.1f)", after - warm, count, limit))
            throw ExitCode(1)
        }
    }
}
