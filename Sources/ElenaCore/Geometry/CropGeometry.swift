/// Something a human should look at, recorded with the crop.
package enum CropFlag: String, Sendable, Hashable, Codable, CaseIterable {
    /// A face strategy found no face; the fallback was applied.
    case noFaceFound = "no_face_found"
    /// More than one face was found.
    case multipleFaces = "multiple_faces"
    /// A face touches the edge of the frame.
    case faceAtEdge = "face_at_edge"
    /// The crop is shorter than `min_height`.
    case smallCrop = "small_crop"
    /// The lips could not be separated cleanly from the nose (tilted face); the cut favours hiding the nose.
    case lipsUncertain = "lips_uncertain"
    /// A human set the cut line.
    case humanOverride = "human_override"
    /// `auto`: the main face scored within 0.05 of a threshold: a close call for a person to check.
    case identityUncertain = "identity_uncertain"
    /// `auto`: another face could not be cut away without cutting the persona's: the persona's face went too.
    case identityConflict = "identity_conflict"
    /// The picture looks like one already approved or published, in this drop or another (set by the run after the
    /// crop, from the fingerprints; the run summary names the other item).
    case nearDuplicate = "near_duplicate"
}

/// What `auto` measured: each face's score against the persona, the thresholds and the model.
package struct IdentityRecord: Sendable, Hashable, Codable {
    /// One score per face, in the detection's order (largest face first).
    package var scores: [Double]
    package var keepAbove: Double
    package var lipsAbove: Double
    /// The identity model and the persona's centroid digest.
    package var model: String
    package var persona: String

    /// Creates a record.
    package init(scores: [Double], keepAbove: Double, lipsAbove: Double, model: String, persona: String) {
        self.scores = scores
        self.keepAbove = keepAbove
        self.lipsAbove = lipsAbove
        self.model = model
        self.persona = persona
    }

    /// Within this of a threshold, a score is a close call.
    package static let uncertainty = 0.05
}

/// The outcome of the crop rules for one image.
package struct CropDecision: Sendable, Hashable, Codable {
    /// The strategy actually applied (the fallback's, when no face was found).
    package var applied: CropStrategy
    /// The horizontal cut: everything above this row is removed.
    package var line: Int
    /// The rectangle kept, in the oriented full-resolution image.
    package var rect: PixelRect
    /// Why this line, in one sentence.
    package var reason: String
    /// Things to check in review.
    package var flags: [CropFlag]
    /// `auto`: the scores it decided by.
    package var identity: IdentityRecord?

    /// Creates a decision.
    package init(
        applied: CropStrategy, line: Int, rect: PixelRect, reason: String, flags: [CropFlag], identity: IdentityRecord? = nil
    ) {
        self.identity = identity
        self.applied = applied
        self.line = line
        self.rect = rect
        self.reason = reason
        self.flags = flags
    }
}

extension CropDecision {
    /// The flags of the decision a crop step recorded in its summary (`{"decision": {"flags": [...]}, ...}`).
    package static func recordedFlags(in summary: JSONValue) -> [String] {
        summary["decision"]?["flags"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The flags a recorded crop summary carries, read without parsing the rest of it.
    package static func recordedFlags(in summary: JSONText) -> [String] {
        JSONValue.parse(summary.text, at: ["decision", "flags"])?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}

/// The crop cannot leave anything to publish.
package struct CropGeometryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    package var description: String
}

/// Pure crop geometry: image size + detections + strategy → the rectangle to keep.
package enum CropGeometry {
    /// Decides the crop.
    /// - Parameters:
    ///   - size: the oriented image size.
    ///   - faces: detected faces (empty for strategies that need none).
    ///   - spec: the resolved crop settings.
    ///   - lineOverride: a human-chosen cut, as a fraction of the height, which wins over the strategy.
    ///   - identity: for `auto`, each face's score against the persona, the thresholds and the model.
    /// - Throws: `CropGeometryError` when nothing would be left.
    package static func decide(
        size: PixelSize, faces: [Face], spec: CropSpec, lineOverride: Double? = nil, identity: IdentityRecord? = nil
    ) throws(CropGeometryError) -> CropDecision {
        let height = Double(size.height)
        var flags: [CropFlag] = []
        var applied = spec.strategy
        var reason: String
        var line: Double

        if faces.count > 1 { flags.append(.multipleFaces) }
        if faces.contains(where: { touchesEdge($0, size) }) { flags.append(.faceAtEdge) }

        if let lineOverride {
            line = lineOverride * height
            reason = "human override at \(NumberText.format(lineOverride)) of the height"
            flags.append(.humanOverride)
        } else {
            switch spec.strategy {
            case .keep:
                line = 0
                reason = "keep: no face cut"
            case .topFraction:
                line = spec.topFraction * height
                reason = "top_fraction: cut \(NumberText.format(spec.topFraction)) of the height off the top"
            case .noFace, .lipsOnly, .auto:
                if faces.isEmpty {
                    applied = spec.fallback.strategy
                    flags.append(.noFaceFound)
                    line = applied == .keep ? 0 : spec.topFraction * height
                    reason =
                        applied == .keep
                        ? "no face found; fallback keep: no cut"
                        : "no face found; fallback top_fraction \(NumberText.format(spec.topFraction))"
                } else if spec.strategy == .noFace {
                    (line, reason) = noFaceLine(faces: faces, spec: spec, height: height)
                } else if spec.strategy == .auto {
                    guard let identity, identity.scores.count == faces.count else {
                        throw CropGeometryError(description: "strategy auto needs a score for every face (an identity model and a persona)")
                    }
                    (applied, line, reason) = autoLine(faces: faces, identity: identity, spec: spec, height: height, flags: &flags)
                } else {
                    (line, reason) = lipsLine(faces: faces, spec: spec, height: height, flags: &flags)
                }
            }
        }

        let top = max(0, Int(line.rounded(.up)))
        guard top < size.height else {
            throw CropGeometryError(
                description: "the cut line (y=\(Int(line))) is at or below the bottom of the \(size) image: nothing is left")
        }
        var rect = PixelRect(x: 0, y: top, width: size.width, height: size.height - top)
        if let aspect = spec.aspect {
            let centre = faces.isEmpty ? Double(size.width) / 2 : faces.map(\.box.midX).reduce(0, +) / Double(faces.count)
            rect = fit(rect, to: aspect, centreX: centre, imageWidth: size.width)
        }
        if let minHeight = spec.minHeight, rect.height < minHeight { flags.append(.smallCrop) }
        return CropDecision(
            applied: applied, line: top, rect: rect, reason: reason, flags: flags,
            identity: spec.strategy == .auto ? identity : nil)
    }

    /// `no_face`: below the lowest chin of every face, plus the margin.
    static func noFaceLine(faces: [Face], spec: CropSpec, height: Double) -> (Double, String) {
        let lowest = faces.map(\.bottom).max() ?? 0
        return (
            lowest + spec.margin * height,
            "no_face: below the lowest chin (y=\(Int(lowest.rounded()))) plus margin " + NumberText.format(spec.margin)
        )
    }

    /// `auto`: the face that scores best against the persona (or, when none is close to hers, the largest) is the
    /// main face. It is kept when it scores at least `keepAbove`, keeps only its lips from `lipsAbove`, and is cut
    /// below that. Every other face that is not hers (below `keepAbove`) is cut away below its chin whatever the main
    /// face's score; when that would cut into what stays of the persona's face, the item is flagged and cut as
    /// `no_face`.
    static func autoLine(
        faces: [Face], identity: IdentityRecord, spec: CropSpec, height: Double, flags: inout [CropFlag]
    ) -> (CropStrategy, Double, String) {
        let best = faces.indices.max { identity.scores[$0] < identity.scores[$1] } ?? 0
        let largest = faces.indices.max { faces[$0].area < faces[$1].area } ?? 0
        let mainIndex = identity.scores[best] >= identity.lipsAbove ? best : largest
        let main = faces[mainIndex]
        let score = identity.scores[mainIndex]
        let scoreText = NumberText.format((score * 1000).rounded() / 1000)
        if abs(score - identity.keepAbove) <= IdentityRecord.uncertainty || abs(score - identity.lipsAbove) <= IdentityRecord.uncertainty {
            flags.append(.identityUncertain)
        }
        // The faces to cut away: every other face that is not the persona's.
        let strangers = faces.indices.filter { $0 != mainIndex && identity.scores[$0] < identity.keepAbove }.map { faces[$0] }
        let below = strangers.map { $0.bottom + spec.margin * height }.max()
        let strangersText = below.map { " and below the chin of every other face (y=\(Int($0.rounded())))" } ?? ""
        func cut() -> (CropStrategy, Double, String) {
            let (line, reason) = noFaceLine(faces: faces, spec: spec, height: height)
            return (.noFace, line, "auto: the main face scores \(scoreText) against the persona (below "
                + "\(NumberText.format(identity.lipsAbove))): cut; " + reason)
        }
        func conflict(_ keeping: String) -> (CropStrategy, Double, String) {
            flags.append(.identityConflict)
            let (line, reason) = noFaceLine(faces: faces, spec: spec, height: height)
            return (.noFace, line, "auto: the main face scores \(scoreText) (\(keeping)), but another face below it "
                + "cannot be cut away without cutting hers: cut as " + reason)
        }
        if score >= identity.keepAbove {
            let line = below ?? 0
            // What stays of her face is all of it: a cut below a stranger's chin must stay above her forehead.
            if line > main.box.y { return conflict("hers, at least \(NumberText.format(identity.keepAbove))") }
            return (.keep, line, "auto: the main face scores \(scoreText) against the persona (at least "
                + "\(NumberText.format(identity.keepAbove))): kept" + strangersText)
        }
        if score >= identity.lipsAbove {
            var lipFlags: [CropFlag] = []
            var (line, reason) = lipsLine(faces: [main], spec: spec, height: height, flags: &lipFlags)
            flags += lipFlags
            if let below, below > line {
                // Her lips must stay: the cut may go down to the line between them, no further.
                let limit = main.mouthLine ?? main.bottom
                if below > limit { return conflict("close, between \(NumberText.format(identity.lipsAbove)) and \(NumberText.format(identity.keepAbove))") }
                line = below
                reason += "; pushed below another face's chin"
            }
            return (.lipsOnly, line, "auto: the main face scores \(scoreText) against the persona (between "
                + "\(NumberText.format(identity.lipsAbove)) and \(NumberText.format(identity.keepAbove))): only the lips stay; " + reason)
        }
        return cut()
    }

    /// `lips_only`: the cut lies between the bottom of the nose and the top of the upper lip of the main (largest)
    /// face; every other face must be cut away entirely, so the line is pushed below their chins.
    static func lipsLine(faces: [Face], spec: CropSpec, height: Double, flags: inout [CropFlag]) -> (Double, String) {
        let main = faces.max { $0.area < $1.area } ?? faces[0]
        var line: Double
        var reason: String
        if spec.lipsLine == .mouth, let mouth = main.mouthLine, let nose = main.noseBottom, mouth > nose {
            line = mouth
            reason = "lips_only (mouth): between the lips (y=\(Int(mouth.rounded()))); only the lower lip stays"
        } else if let nose = main.noseBottom, let lip = main.upperLipTop {
            if nose < lip {
                line = (nose + lip) / 2
                reason = "lips_only: between the nose (y=\(Int(nose.rounded()))) and the upper lip (y=\(Int(lip.rounded())))"
            } else {
                line = nose + 1
                flags.append(.lipsUncertain)
                reason = "lips_only: nose and lip overlap (tilted face); cut just below the nose (y=\(Int(nose.rounded())))"
            }
        } else {
            // Without landmarks the nose cannot be placed; hide the whole face rather than guess.
            line = main.bottom + spec.margin * height
            flags.append(.lipsUncertain)
            reason = "lips_only: no lip landmarks; cut below the chin instead"
        }
        let others = faces.filter { $0 != main }
        if let lowestOther = others.map(\.bottom).max(), lowestOther + spec.margin * height > line {
            line = lowestOther + spec.margin * height
            reason += "; pushed below another face's chin (y=\(Int(lowestOther.rounded())))"
        }
        return (line, reason)
    }

    /// Trims `rect` to the aspect ratio: too tall loses rows at the bottom (the cut stays where the rules put it);
    /// too wide loses columns on both sides around `centreX`.
    static func fit(_ rect: PixelRect, to aspect: AspectRatio, centreX: Double, imageWidth: Int) -> PixelRect {
        var result = rect
        let target = aspect.value
        let current = Double(rect.width) / Double(rect.height)
        if current < target {
            result.height = max(1, min(rect.height, Int((Double(rect.width) / target).rounded())))
        } else if current > target {
            let width = max(1, min(rect.width, Int((Double(rect.height) * target).rounded())))
            let left = Int((centreX - Double(width) / 2).rounded())
            result.x = min(max(0, left), imageWidth - width)
            result.width = width
        }
        return result
    }

    static func touchesEdge(_ face: Face, _ size: PixelSize) -> Bool {
        face.box.x <= 0 || face.box.y <= 0 || face.box.x + face.box.width >= Double(size.width)
            || face.box.maxY >= Double(size.height)
    }
}
