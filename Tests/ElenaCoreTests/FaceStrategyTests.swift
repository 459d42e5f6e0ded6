import ElenaCore
import Testing

/// The manifest keys the face crop engine added, and the `mouth` variant of lips_only.
@Suite struct FaceStrategyTests {
    @Test func lipsLineAndMarkAIDecodeWithDefaults() throws {
        let base = """
            version: 1
            drop: d
            source: {dir: src}
            publish: {to: folder}
            """
        let (defaults, _) = try ManifestDecoder.decode(base + "\ncrop: {strategy: lips_only}\n", file: "m.yaml")
        #expect(defaults.crop.lipsLine == .upperLip)
        #expect(defaults.crop.markAI == false)
        let (set, _) = try ManifestDecoder.decode(
            base + "\ncrop: {strategy: lips_only, lips_line: mouth, mark_ai: true}\n", file: "m.yaml")
        #expect(set.crop.lipsLine == .mouth)
        #expect(set.crop.markAI)
        #expect(throws: ManifestError.self) {
            try ManifestDecoder.decode(base + "\ncrop: {strategy: lips_only, lips_line: chin}\n", file: "m.yaml")
        }
    }

    static func face() -> Face {
        Face(
            box: Box(x: 400, y: 100, width: 200, height: 260), confidence: 0.99,
            jaw: [Point(x: 420, y: 300), Point(x: 500, y: 360), Point(x: 580, y: 300)],
            nose: [Point(x: 500, y: 250), Point(x: 490, y: 262), Point(x: 510, y: 262)],
            upperLip: [Point(x: 480, y: 284), Point(x: 500, y: 280), Point(x: 520, y: 284)],
            mouth: [Point(x: 500, y: 300), Point(x: 500, y: 304)],
            lowerLip: [Point(x: 500, y: 320)], eyes: [Point(x: 460, y: 200), Point(x: 540, y: 200)])
    }

    @Test func lipsOnlyCutsBetweenNoseAndUpperLipOrBetweenTheLips() throws {
        let size = PixelSize(width: 1000, height: 1500)
        let upper = try CropGeometry.decide(size: size, faces: [Self.face()], spec: CropSpec(strategy: .lipsOnly))
        #expect(upper.line == 271, "midway between the nose bottom (262) and the upper lip top (280)")
        let mouth = try CropGeometry.decide(
            size: size, faces: [Self.face()], spec: CropSpec(strategy: .lipsOnly, lipsLine: .mouth))
        #expect(mouth.line == 302, "between the lips: only the lower lip stays")
        #expect(mouth.reason.contains("mouth"))
        let noFace = try CropGeometry.decide(size: size, faces: [Self.face()], spec: CropSpec(strategy: .noFace, margin: 0.01))
        #expect(noFace.line == 375, "below the lowest jaw point (360) plus 1% of 1500")
    }
}
