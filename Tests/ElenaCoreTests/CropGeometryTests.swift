import ElenaCore
import ElenaTestKit
import Foundation
import Testing

@Suite struct CropGeometryTests {
    static let portrait = PixelSize(width: 1000, height: 2000)

    static func face(
        _ x: Double, _ y: Double, _ width: Double, _ height: Double, jaw: [Double] = [], nose: [Double] = [],
        upperLip: [Double] = []
    ) -> Face {
        func points(_ ys: [Double]) -> [Point] {
            ys.enumerated().map { Point(x: x + width * Double($0.offset + 1) / Double(ys.count + 1), y: $0.element) }
        }
        return Face(
            box: Box(x: x, y: y, width: width, height: height), confidence: 0.9, jaw: points(jaw), nose: points(nose),
            upperLip: points(upperLip))
    }

    static func spec(
        _ strategy: CropStrategy, fallback: CropFallback = .topFraction, topFraction: Double = 0.30, margin: Double = 0.02,
        aspect: AspectRatio? = nil, minHeight: Int? = nil
    ) -> CropSpec {
        CropSpec(
            strategy: strategy, fallback: fallback, topFraction: topFraction, margin: margin, aspect: aspect,
            minHeight: minHeight)
    }

    // MARK: - keep and top_fraction

    @Test func keepCutsNothing() throws {
        let decision = try CropGeometry.decide(size: PixelSize(width: 1000, height: 1500), faces: [], spec: Self.spec(.keep))
        #expect(decision.applied == .keep)
        #expect(decision.line == 0)
        #expect(decision.rect == PixelRect(x: 0, y: 0, width: 1000, height: 1500))
        #expect(decision.flags == [])
        #expect(decision.reason == "keep: no face cut")
    }

    @Test(arguments: [(1000, 0.3, 300), (1001, 0.3, 301), (1536, 0.3, 461), (7, 0.3, 3), (1000, 0.25, 250), (1000, 0, 0)])
    func topFractionCutsTheCeilingOfTheFraction(height: Int, fraction: Double, line: Int) throws {
        let decision = try CropGeometry.decide(
            size: PixelSize(width: 800, height: height), faces: [], spec: Self.spec(.topFraction, topFraction: fraction))
        #expect(decision.applied == .topFraction)
        #expect(decision.line == line)
        #expect(decision.rect == PixelRect(x: 0, y: line, width: 800, height: height - line))
        #expect(decision.flags == [])
    }

    @Test func topFractionLineIsCeilOfFractionTimesHeightForEveryHeight() throws {
        for height in 2...3000 {
            let decision = try CropGeometry.decide(
                size: PixelSize(width: 10, height: height), faces: [], spec: Self.spec(.topFraction))
            #expect(decision.line == Int((0.3 * Double(height)).rounded(.up)), "height \(height)")
        }
    }

    @Test func topFractionReasonNamesTheFraction() throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [], spec: Self.spec(.topFraction))
        #expect(decision.reason == "top_fraction: cut 0.3 of the height off the top")
    }

    // MARK: - Aspect and size

    @Test func aspectTrimsTheBottomWhenTooTall() throws {
        let four5 = AspectRatio(width: 4, height: 5)
        let decision = try CropGeometry.decide(
            size: PixelSize(width: 1000, height: 1500), faces: [], spec: Self.spec(.keep, aspect: four5))
        #expect(decision.rect == PixelRect(x: 0, y: 0, width: 1000, height: 1250))
        #expect(decision.line == 0, "the cut stays where the rules put it")
    }

    @Test func aspectTrimsBothSidesWhenTooWideAfterTheCut() throws {
        // 1000x1500 minus 450 rows = 1000x1050, wider than 4:5 → 840 wide, centred on the middle.
        let decision = try CropGeometry.decide(
            size: PixelSize(width: 1000, height: 1500), faces: [],
            spec: Self.spec(.topFraction, aspect: AspectRatio(width: 4, height: 5)))
        #expect(decision.rect == PixelRect(x: 80, y: 450, width: 840, height: 1050))
    }

    @Test(arguments: [
        ([Double](), 600),  // no face: the image's centre
        ([1900], 1200),  // centred on the face would pass the right edge: clamped inside
        ([100], 0),  // would pass the left edge: clamped inside
        ([500, 900], 300),  // the mean of the faces' centres
        ([1000], 600),
    ])
    func aspectCentresTheKeptColumnsOnTheFaces(faceCentres: [Double], x: Int) throws {
        let faces = faceCentres.map { Self.face($0 - 50, 100, 100, 100) }
        let decision = try CropGeometry.decide(
            size: PixelSize(width: 2000, height: 1000), faces: faces,
            spec: Self.spec(.keep, aspect: AspectRatio(width: 4, height: 5)))
        #expect(decision.rect == PixelRect(x: x, y: 0, width: 800, height: 1000))
    }

    @Test(arguments: [(1000, 800, 900, true), (1000, 800, 800, false), (1000, 1500, nil, false), (1000, 1500, 1300, true)])
    func minHeightFlagsSmallCrops(width: Int, height: Int, minHeight: Int?, flagged: Bool) throws {
        // The 1000x1500 cases are trimmed to 4:5 first (1250 high).
        let decision = try CropGeometry.decide(
            size: PixelSize(width: width, height: height), faces: [],
            spec: Self.spec(.keep, aspect: height == 1500 ? AspectRatio(width: 4, height: 5) : nil, minHeight: minHeight))
        #expect(decision.flags.contains(.smallCrop) == flagged)
    }

    // MARK: - no_face

    @Test func noFaceCutsBelowTheBoxPlusMargin() throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [Self.face(400, 100, 200, 250)], spec: Self.spec(.noFace))
        #expect(decision.applied == .noFace)
        #expect(decision.line == 390)  // 350 + 0.02 * 2000
        #expect(decision.rect == PixelRect(x: 0, y: 390, width: 1000, height: 1610))
        #expect(decision.flags == [])
        #expect(decision.reason == "no_face: below the lowest chin (y=350) plus margin 0.02")
    }

    @Test func noFaceUsesTheLowestJawPointWhenThereAreLandmarks() throws {
        let chinBelowBox = Self.face(400, 100, 200, 250, jaw: [330, 372.4, 360])
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [chinBelowBox], spec: Self.spec(.noFace))
        #expect(decision.line == 413)  // ceil(372.4 + 40)

        let chinAboveBox = Self.face(400, 100, 200, 250, jaw: [300, 330, 310])
        let higher = try CropGeometry.decide(size: Self.portrait, faces: [chinAboveBox], spec: Self.spec(.noFace))
        #expect(higher.line == 370)  // the landmarks win over the loose box
    }

    @Test func noFaceLowestOfSeveralFacesWins() throws {
        let faces = [Self.face(600, 300, 200, 200, jaw: [540, 560, 550]), Self.face(100, 100, 200, 200)]
        let decision = try CropGeometry.decide(size: Self.portrait, faces: faces, spec: Self.spec(.noFace, margin: 0.05))
        #expect(decision.line == 660)  // 560 + 0.05 * 2000
        #expect(decision.flags == [.multipleFaces])
        #expect(decision.reason.contains("y=560"))
    }

    @Test(arguments: [
        (Box(x: 0, y: 100, width: 200, height: 200), true),  // left edge
        (Box(x: -30, y: 100, width: 200, height: 200), true),  // cut by the frame
        (Box(x: 400, y: 0, width: 200, height: 200), true),  // top edge
        (Box(x: 800, y: 100, width: 200, height: 200), true),  // right edge (x + width == width)
        (Box(x: 400, y: 1800, width: 200, height: 200), true),  // bottom edge
        (Box(x: 1, y: 1, width: 200, height: 200), false),
        (Box(x: 799, y: 1799, width: 200, height: 200), false),
    ])
    func aFaceTouchingAnEdgeIsFlagged(box: Box, flagged: Bool) throws {
        let face = Face(box: box, confidence: 0.9)
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [face], spec: Self.spec(.keep))
        #expect(decision.flags.contains(.faceAtEdge) == flagged)
    }

    @Test(arguments: [CropStrategy.noFace, .lipsOnly])
    func noFaceFoundFallsBackToTopFraction(strategy: CropStrategy) throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [], spec: Self.spec(strategy, fallback: .topFraction))
        #expect(decision.applied == .topFraction)
        #expect(decision.line == 600)
        #expect(decision.flags == [.noFaceFound])
        #expect(decision.reason == "no face found; fallback top_fraction 0.3")
    }

    @Test(arguments: [CropStrategy.noFace, .lipsOnly])
    func noFaceFoundFallsBackToKeep(strategy: CropStrategy) throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [], spec: Self.spec(strategy, fallback: .keep))
        #expect(decision.applied == .keep)
        #expect(decision.line == 0)
        #expect(decision.rect == PixelRect(x: 0, y: 0, width: 1000, height: 2000))
        #expect(decision.flags == [.noFaceFound])
        #expect(decision.reason == "no face found; fallback keep: no cut")
    }

    // MARK: - lips_only

    /// A big face whose nose ends at y=540 and whose upper lip starts at y=555.
    static let mainFace = face(300, 200, 400, 500, nose: [520, 540, 530], upperLip: [560, 555, 560])

    @Test func lipsOnlyCutsBetweenTheNoseAndTheUpperLip() throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [Self.mainFace], spec: Self.spec(.lipsOnly))
        #expect(decision.applied == .lipsOnly)
        #expect(decision.line == 548)  // ceil((540 + 555) / 2)
        #expect(decision.flags == [])
        #expect(decision.reason == "lips_only: between the nose (y=540) and the upper lip (y=555)")
    }

    @Test func lipsOnlyFollowsTheLargestFaceWhateverTheOrder() throws {
        let small = Self.face(800, 100, 100, 100, nose: [120], upperLip: [130])
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [small, Self.mainFace], spec: Self.spec(.lipsOnly))
        #expect(decision.line == 548)
        #expect(decision.flags == [.multipleFaces])
    }

    @Test func lipsOnlyPushesTheLineBelowAnotherFacesChin() throws {
        let lower = Self.face(800, 600, 100, 100)
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [Self.mainFace, lower], spec: Self.spec(.lipsOnly))
        #expect(decision.line == 740)  // 700 + 0.02 * 2000
        #expect(decision.flags == [.multipleFaces])
        #expect(decision.reason.hasSuffix("; pushed below another face's chin (y=700)"))
    }

    @Test func lipsOnlyIgnoresOtherFacesAlreadyAboveTheLine() throws {
        let higher = Self.face(800, 50, 100, 100)
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [Self.mainFace, higher], spec: Self.spec(.lipsOnly))
        #expect(decision.line == 548)
        #expect(!decision.reason.contains("pushed"))
    }

    @Test(arguments: [(560.0, 550.0, 561), (555, 555, 556)])
    func lipsOnlyWithOverlappingNoseAndLipCutsJustBelowTheNose(nose: Double, lip: Double, line: Int) throws {
        let tilted = Self.face(300, 200, 400, 500, nose: [nose], upperLip: [lip])
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [tilted], spec: Self.spec(.lipsOnly))
        #expect(decision.line == line)
        #expect(decision.flags == [.lipsUncertain])
        #expect(decision.reason.contains("nose and lip overlap"))
    }

    @Test(arguments: [
        CropGeometryTests.face(300, 200, 400, 500),
        CropGeometryTests.face(300, 200, 400, 500, nose: [540]),
        CropGeometryTests.face(300, 200, 400, 500, upperLip: [555]),
    ])
    func lipsOnlyWithoutLandmarksHidesTheWholeFace(face: Face) throws {
        let decision = try CropGeometry.decide(size: Self.portrait, faces: [face], spec: Self.spec(.lipsOnly))
        #expect(decision.line == 740)  // box bottom 700 + 0.02 * 2000
        #expect(decision.flags == [.lipsUncertain])
        #expect(decision.reason == "lips_only: no lip landmarks; cut below the chin instead")
    }

    // MARK: - Human override and impossible cuts

    @Test func aHumanLineWinsOverTheStrategy() throws {
        let decision = try CropGeometry.decide(
            size: Self.portrait, faces: [Self.mainFace], spec: Self.spec(.noFace), lineOverride: 0.25)
        #expect(decision.applied == .noFace)
        #expect(decision.line == 500)
        #expect(decision.rect.y == 500)
        #expect(decision.flags.contains(.humanOverride))
        #expect(decision.reason == "human override at 0.25 of the height")

        let none = try CropGeometry.decide(size: Self.portrait, faces: [], spec: Self.spec(.lipsOnly), lineOverride: 0)
        #expect(none.line == 0)
        #expect(!none.flags.contains(.noFaceFound), "a human line needs no face")
    }

    @Test(arguments: [1.0, 1.2, 1999.5 / 2000])
    func aHumanLineAtOrBelowTheBottomThrows(fraction: Double) {
        #expect(throws: CropGeometryError.self) {
            try CropGeometry.decide(size: Self.portrait, faces: [], spec: Self.spec(.keep), lineOverride: fraction)
        }
    }

    @Test func theLastRowCanStillBeKept() throws {
        let decision = try CropGeometry.decide(
            size: Self.portrait, faces: [], spec: Self.spec(.keep), lineOverride: 1999.0 / 2000)
        #expect(decision.rect == PixelRect(x: 0, y: 1999, width: 1000, height: 1))
    }

    @Test func aFaceAtTheBottomLeavesNothingForNoFace() throws {
        let low = Self.face(400, 1700, 200, 290)
        let error = try #require(throws: CropGeometryError.self) {
            try CropGeometry.decide(size: Self.portrait, faces: [low], spec: Self.spec(.noFace))
        }
        #expect(error.description == "the cut line (y=2030) is at or below the bottom of the 1000x2000 image: nothing is left")
    }

    @Test func decisionsSurviveAJSONRoundTrip() throws {
        let decision = try CropGeometry.decide(
            size: Self.portrait, faces: [Self.mainFace, Self.face(0, 600, 100, 100)],
            spec: Self.spec(.lipsOnly, aspect: AspectRatio(width: 4, height: 5)))
        let data = try JSONEncoder().encode(decision)
        #expect(try JSONDecoder().decode(CropDecision.self, from: data) == decision)
    }

    // MARK: - Properties over many random cases

    @Test func propertiesHoldForRandomImagesAndFaces() throws {
        var random = SeededRandom(seed: 20_261_201)
        let aspects: [AspectRatio?] = [nil, AspectRatio(width: 4, height: 5), AspectRatio(width: 1, height: 1),
            AspectRatio(width: 9, height: 16), AspectRatio(width: 16, height: 9), AspectRatio(width: 2, height: 3)]
        var decided = 0
        var thrown = 0
        for round in 0..<3000 {
            let width = Int.random(in: 32...4000, using: &random)
            let height = Int.random(in: 32...4000, using: &random)
            let w = Double(width)
            let h = Double(height)
            let faces = (0..<Int.random(in: 0...3, using: &random)).map { _ -> Face in
                let boxWidth = Double.random(in: 10...(w / 2), using: &random)
                let boxHeight = Double.random(in: 10...(h / 2), using: &random)
                let x = Double.random(in: -20...(w - boxWidth / 2), using: &random)
                let y = Double.random(in: -20...(h * 0.6), using: &random)
                let withLandmarks = Bool.random(using: &random)
                let nose = y + boxHeight * Double.random(in: 0.5...0.7, using: &random)
                let lip = nose + boxHeight * Double.random(in: -0.05...0.1, using: &random)
                let chin = y + boxHeight * Double.random(in: 0.9...1.1, using: &random)
                return Face(
                    box: Box(x: x, y: y, width: boxWidth, height: boxHeight), confidence: 0.9,
                    jaw: withLandmarks ? [Point(x: x + boxWidth / 2, y: chin)] : [],
                    nose: withLandmarks ? [Point(x: x + boxWidth / 2, y: nose)] : [],
                    upperLip: withLandmarks ? [Point(x: x + boxWidth / 2, y: lip)] : [])
            }
            let spec = CropSpec(
                strategy: CropStrategy.allCases.randomElement(using: &random) ?? .keep,
                fallback: CropFallback.allCases.randomElement(using: &random) ?? .keep,
                topFraction: Double.random(in: 0..<0.95, using: &random),
                margin: Double.random(in: 0.001...0.2, using: &random),
                aspect: aspects.randomElement(using: &random) ?? nil,
                minHeight: Bool.random(using: &random) ? Int.random(in: 1...3000, using: &random) : nil)
            // auto: a random score per face against the persona.
            let identity =
                spec.strategy == .auto
                ? IdentityRecord(
                    scores: faces.map { _ in Double.random(in: 0...1, using: &random) }, keepAbove: 0.55, lipsAbove: 0.363,
                    model: "test", persona: "test")
                : nil
            let context = "round \(round): \(width)x\(height) \(spec) faces \(faces.map(\.box)) scores \(identity?.scores ?? [])"
            // The faces auto must cut away whatever it keeps: every face but the main one that is not hers (the main
            // face: the best-scoring one when it is close to hers, else the largest).
            let largestIndex = faces.indices.max { faces[$0].area < faces[$1].area }
            let bestIndex = identity.flatMap { identity in faces.indices.max { identity.scores[$0] < identity.scores[$1] } }
            let mainIndex = bestIndex.flatMap { index in (identity?.scores[index] ?? 0) >= 0.363 ? index : nil } ?? largestIndex
            let strangers = faces.indices.filter { index in
                identity.map { index != mainIndex && $0.scores[index] < $0.keepAbove } ?? (index != mainIndex)
            }.map { faces[$0] }

            let decision: CropDecision
            do {
                decision = try CropGeometry.decide(
                    size: PixelSize(width: width, height: height), faces: faces, spec: spec, identity: identity)
            } catch {
                thrown += 1
                // Only a face strategy can push the line off the bottom, and only when there is a face.
                #expect(spec.strategy.needsFaces && !faces.isEmpty, "\(context)")
                #expect(String(describing: error).hasSuffix("nothing is left"), "\(context)")
                if spec.strategy == .noFace {
                    let line = (faces.map(\.bottom).max() ?? 0) + spec.margin * h
                    #expect(line.rounded(.up) >= h, "\(context)")
                }
                continue
            }
            decided += 1
            let rect = decision.rect
            // Inside the image and not empty.
            #expect(rect.x >= 0 && rect.y >= 0 && rect.width >= 1 && rect.height >= 1, "\(context)")
            #expect(rect.x + rect.width <= width && rect.y + rect.height <= height, "\(context)")
            // Nothing above the line.
            #expect(rect.y == decision.line, "\(context)")
            if decision.flags.contains(.identityConflict) { #expect(decision.applied == .noFace, "\(context)") }
            switch decision.applied {
            case .keep where spec.strategy == .auto && !faces.isEmpty:
                // Her face whole, every stranger's cut away.
                let main = try #require(mainIndex.map { faces[$0] })
                #expect(Double(decision.line) <= main.box.y.rounded(.up) + 1, "\(context): her face stays")
                for other in strangers { #expect(Double(rect.y) > other.bottom, "\(context): a stranger must go") }
            case .keep: #expect(decision.line == 0, "\(context)")
            case .auto: Issue.record("auto is never the strategy applied: \(context)")
            case .topFraction: #expect(Double(rect.y) >= spec.topFraction * h, "\(context)")
            case .noFace:
                for face in faces {
                    #expect(Double(rect.y) > face.bottom, "\(context)")
                    #expect(Double(rect.y) >= face.bottom + spec.margin * h, "\(context)")
                }
            case .lipsOnly:
                let main = try #require(spec.strategy == .auto ? mainIndex.map { faces[$0] } : faces.max { $0.area < $1.area })
                if let nose = main.noseBottom { #expect(Double(rect.y) > nose, "\(context): the nose must go") }
                for other in strangers {
                    #expect(Double(rect.y) > other.bottom, "\(context): every other face must go")
                }
            }
            // The aspect ratio, to within a pixel, with the trimmed columns centred on the faces where possible.
            if let aspect = spec.aspect {
                let target = aspect.value
                let fits =
                    abs(Double(rect.width) - Double(rect.height) * target) <= 1
                    || abs(Double(rect.height) - Double(rect.width) / target) <= 1
                #expect(fits, "\(context): \(rect)")
                if rect.width < width {
                    let centre = faces.isEmpty ? w / 2 : faces.map(\.box.midX).reduce(0, +) / Double(faces.count)
                    let atEdge = rect.x == 0 || rect.x + rect.width == width
                    #expect(atEdge || abs(Double(rect.x) + Double(rect.width) / 2 - centre) <= 1, "\(context): \(rect)")
                }
            } else {
                #expect(rect.x == 0 && rect.width == width && rect.y + rect.height == height, "\(context)")
            }
            // Flags tell the truth.
            #expect(decision.flags.contains(.smallCrop) == (spec.minHeight.map { rect.height < $0 } ?? false), "\(context)")
            #expect(decision.flags.contains(.multipleFaces) == (faces.count > 1), "\(context)")
            #expect(decision.flags.contains(.noFaceFound) == (spec.strategy.needsFaces && faces.isEmpty), "\(context)")
            #expect(!decision.flags.contains(.humanOverride), "\(context)")
        }
        // The generator must exercise both outcomes, or the test proves little.
        #expect(decided > 2000)
        #expect(thrown > 0)
    }
}
