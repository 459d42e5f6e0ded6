import ArgumentParser
import ElenaCore
import ElenaStages
import ElenaVision
import Foundation

/// `elena-dev bench-crop <files…>`: crop throughput against the decode+encode floor, in one process, on all cores.
struct BenchCrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-crop",
        abstract: "Measure decode+encode (the floor) and decode+detect+crop+encode, images per second; detection alone.")

    @Argument(help: "Image files (1024x1536 for the standard figure).")
    var files: [String]

    @Option(help: "Parallel workers (one image per core).")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Passes over the images for each measurement.")
    var rounds = 5

    @Option(help: "Folder with the face models.")
    var models: String

    @Option(help: "Crop strategy for the measured pipeline.")
    var strategy = "no_face"

    @Flag(help: "Print the detection time of each image.")
    var verbose = false

    @Option(help: "A reference photo of a persona (twice or more): also measure strategy auto, scoring every face.")
    var persona: [String] = []

    func run() throws {
        MediaPipeFaceDetector.setOpenCVThreads(1)
        let codec = OpenCVCodec()
        let detector = try MediaPipeFaceDetector(modelsFolder: models)
        let inputs = try files.map { file -> (Data, ImageHeader) in
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            return (data, try ImageHeader.read(data))
        }
        let spec = CropSpec(strategy: CropStrategy(rawValue: strategy) ?? .noFace)
        let total = inputs.count * rounds

        func measure(_ work: @escaping @Sendable (Int) throws -> Void) throws -> Double {
            let next = Locked(0)
            let failures = Locked(0)
            let start = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let index = next.withLock { index in
                        defer { index += 1 }
                        return index
                    }
                    if index >= total { break }
                    do { try work(index % inputs.count) } catch { failures.withLock { $0 += 1 } }
                }
            }
            let elapsed = ContinuousClock.now - start
            let failed = failures.withLock { $0 }
            if failed > 0 { throw ValidationError("\(failed) images failed") }
            return Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }

        let floor = try measure { index in
            let (data, header) = inputs[index]
            let image = try codec.decode(data, header: header, limits: .standard)
            _ = try image.encode(PixelRect(x: 0, y: 0, width: image.width, height: image.height), format: .jpeg, quality: 92)
        }
        let crop = try measure { index in
            let (data, header) = inputs[index]
            let image = try codec.decode(data, header: header, limits: .standard)
            let faces = try detector.detect(in: image)
            let decision = try CropGeometry.decide(size: image.size, faces: faces, spec: spec)
            _ = try image.encode(decision.rect, format: .jpeg, quality: 92)
        }
        // auto: every face measured against the persona, beside the same run's no_face figure.
        var auto: Double?
        var embeddings: [Double] = []
        if !persona.isEmpty {
            let identifier = try SFaceIdentifier(modelsFolder: models)
            let cache = NSTemporaryDirectory() + "elena-bench-persona-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: cache) }
            let profile = try PersonaEnrolment(codec: codec, detector: detector, identifier: identifier, cacheFolder: cache)
                .enrol(PersonaSpec(references: persona), relativeTo: FileManager.default.currentDirectoryPath, home: NSHomeDirectory())
            let autoSpec = CropSpec(strategy: .auto)
            auto = try measure { index in
                let (data, header) = inputs[index]
                let image = try codec.decode(data, header: header, limits: .standard)
                let faces = try detector.detect(in: image)
                let scores = try faces.map { profile.score(try identifier.embed($0, in: image)) }
                let identity = IdentityRecord(
                    scores: scores, keepAbove: profile.keepAbove, lipsAbove: profile.lipsAbove, model: profile.model,
                    persona: profile.digest)
                let decision = try CropGeometry.decide(size: image.size, faces: faces, spec: autoSpec, identity: identity)
                _ = try image.encode(decision.rect, format: .jpeg, quality: 92)
            }
            for (data, header) in inputs {
                let image = try codec.decode(data, header: header, limits: .standard)
                for face in try detector.detect(in: image) {
                    let start = ContinuousClock.now
                    _ = try identifier.embed(face, in: image)
                    let elapsed = ContinuousClock.now - start
                    embeddings.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                }
            }
        }
        // The fingerprint step's own work per image: the picture's and the crop's (on the decoded image).
        var prints: [Double] = []
        for (data, header) in inputs {
            let image = try codec.decode(data, header: header, limits: .standard)
            let rect = PixelRect(x: 0, y: image.height / 3, width: image.width, height: image.height - image.height / 3)
            _ = try NearDuplicates.fingerprint(of: image)  // OpenCV's first call builds its tables
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                _ = try NearDuplicates.fingerprint(of: image)
                _ = try NearDuplicates.fingerprint(of: image, in: rect)
                let elapsed = ContinuousClock.now - start
                prints.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            }
        }
        prints.sort()
        var detections: [Double] = []
        for (file, (data, header)) in zip(files, inputs) {
            let image = try codec.decode(data, header: header, limits: .standard)
            var times: [Double] = []
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                _ = try detector.detect(in: image)
                let elapsed = ContinuousClock.now - start
                times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            }
            detections += times
            if verbose { print(String(format: "detect %7.2f ms  %@", times.sorted()[times.count / 2], file)) }
        }
        let mean = detections.reduce(0, +) / Double(detections.count)
        detections.sort()
        let median = detections[detections.count / 2]
        print(String(format: "floor_images_per_second %.2f", floor))
        print(String(format: "crop_images_per_second %.2f", crop))
        print(String(format: "detection_median_ms %.2f", median))
        print(String(format: "detection_mean_ms %.2f", mean))
        print(String(format: "fingerprint_median_ms %.3f", prints[prints.count / 2]))
        if let auto {
            print(String(format: "auto_images_per_second %.2f", auto))
            embeddings.sort()
            if !embeddings.isEmpty { print(String(format: "identity_per_face_median_ms %.2f", embeddings[embeddings.count / 2])) }
        }
        print("images \(inputs.count) rounds \(rounds) workers \(workers) strategy \(spec.strategy.rawValue)")
    }
}

