/// One detected face, with the landmarks the crop rules need, in the full image's pixel coordinates.
/// Points may lie outside the image when the face is cut by the frame.
package struct Face: Sendable, Hashable, Codable {
    /// Bounding box from the detector.
    package var box: Box
    /// Detector confidence, 0 to 1.
    package var confidence: Double
    /// The lower face outline (jaw and chin), left to right; the lowest of them is the bottom of the face.
    package var jaw: [Point]
    /// The bottom of the nose (subnasale) and the nostril points.
    package var nose: [Point]
    /// The upper lip's top (outer) contour.
    package var upperLip: [Point]
    /// The line between the lips (inner contour).
    package var mouth: [Point]
    /// The lower lip's bottom (outer) contour.
    package var lowerLip: [Point]
    /// Eye centres.
    package var eyes: [Point]
    /// Roll angle in degrees, 0 for an upright face.
    package var roll: Double
    /// The five points a face is aligned on to measure whose it is (eye on the image's left, eye on its right, nose
    /// tip, mouth corner on the left, on the right). Used while detecting; never recorded.
    package var alignment: [Point]?
    /// How this face measures for identity (L2-normalised), when the crop decides by the persona (`auto`).
    package var embedding: [Float]?

    /// Creates a face.
    package init(
        box: Box, confidence: Double, jaw: [Point] = [], nose: [Point] = [], upperLip: [Point] = [],
        mouth: [Point] = [], lowerLip: [Point] = [], eyes: [Point] = [], roll: Double = 0, alignment: [Point]? = nil,
        embedding: [Float]? = nil
    ) {
        self.alignment = alignment
        self.embedding = embedding
        self.box = box
        self.confidence = confidence
        self.jaw = jaw
        self.nose = nose
        self.upperLip = upperLip
        self.mouth = mouth
        self.lowerLip = lowerLip
        self.eyes = eyes
        self.roll = roll
    }

    /// The lowest point of the face: the lowest jaw landmark, or the box bottom when there are no landmarks.
    package var bottom: Double {
        let landmarks = jaw.map(\.y) + lowerLip.map(\.y)
        return landmarks.max() ?? box.maxY
    }

    /// The lowest point of the nose, if known.
    package var noseBottom: Double? { nose.map(\.y).max() }

    /// The line between the lips (mean of the inner-contour points), if known.
    package var mouthLine: Double? { mouth.isEmpty ? nil : mouth.map(\.y).reduce(0, +) / Double(mouth.count) }

    /// The highest point of the upper lip, if known.
    package var upperLipTop: Double? { upperLip.map(\.y).min() }

    /// The face's area, to pick the main face.
    package var area: Double { box.width * box.height }
}

/// What the face detector found in one image.
package struct Detection: Sendable, Hashable, Codable {
    /// Detector name and model version, e.g. `none` or `mediapipe-facemesh/0.10.21`.
    package var detector: String
    /// The size of the image the coordinates refer to (after EXIF orientation).
    package var imageSize: PixelSize?
    /// Faces found, largest first.
    package var faces: [Face]

    /// Creates a detection result.
    package init(detector: String, imageSize: PixelSize?, faces: [Face]) {
        self.detector = detector
        self.imageSize = imageSize
        self.faces = faces
    }

    /// The result of not running a detector (strategies that need no faces).
    package static let notNeeded = Detection(detector: "none", imageSize: nil, faces: [])
}
