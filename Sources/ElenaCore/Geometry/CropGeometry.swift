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

    /// Creates a decision.
    package init(applied: CropStrategy, line: Int, rect: PixelRect, reason: String, flags: [CropFlag]) {
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
    /// - Throws: `CropGeometryError` when nothing would be left.
    package static func decide(size: PixelSize, faces: [Face], spec: CropSpec, lineOverride: Double? = nil)
        throws(CropGeometryError) -> CropDecision
    {
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
            case .noFace, .lipsOnly:
                if faces.isEmpty {
                    applied = spec.fallback.strategy
                    flags.append(.noFaceFound)
                    line = applied == .keep ? 0 : spec.topFraction * height
                    reason =
                        applied == .keep
                        ? "no face found; fallback keep: no cut"
                        : "no face found; fallback top_fraction \(NumberText.format(spec.topFraction))"
                } else if spec.strategy == .noFace {
                    let lowest = faces.map(\.bottom).max() ?? 0
                    line = lowest + spec.margin * height
                    reason =
                        "no_face: below the lowest chin (y=\(Int(lowest.rounded()))) plus margin "
                        + NumberText.format(spec.margin)
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
        return CropDecision(applied: applied, line: top, rect: rect, reason: reason, flags: flags)
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
