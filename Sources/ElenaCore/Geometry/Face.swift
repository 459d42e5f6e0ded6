/// One detected face, with the landmarks the crop rules need, in the full image's pixel coordinates.
/// Points may lie outside the image when the face is cut by the frame.
public struct Face: Sendable, Hashable, Codable {
    /// Bounding box from the detector.
    public var box: Box
    /// Detector confidence, 0 to 1.
    public var confidence: Double
    /// The lower face outline (jaw and chin), left to right; the lowest of them is the bottom of the face.
    public var jaw: [Point]
    /// The bottom of the nose (subnasale) and the nostril points.
    public var nose: [Point]
    /// The upper lip's top (outer) contour.
    public var upperLip: [Point]
    /// The line between the lips (inner contour).
    public var mouth: [Point]
    /// The lower lip's bottom (outer) contour.
    public var lowerLip: [Point]
    /// Eye centres.
    public var eyes: [Point]
    /// Roll angle in degrees, 0 for an upright face.
    public var roll: Double

    /// Creates a face.
    public init(
        box: Box, confidence: Double, jaw: [Point] = [], nose: [Point] = [], upperLip: [Point] = [],
        mouth: [Point] = [], lowerLip: [Point] = [], eyes: [Point] = [], roll: Double = 0
    ) {
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
    public var bottom: Double {
        let landmarks = jaw.map(\.y) + lowerLip.map(\.y)
        return landmarks.max() ?? box.maxY
    }

    /// The lowest point of the nose, if known.
    public var noseBottom: Double? { nose.map(\.y).max() }

    /// The line between the lips (mean of the inner-contour points), if known.
    public var mouthLine: Double? { mouth.isEmpty ? nil : mouth.map(\.y).reduce(0, +) / Double(mouth.count) }

    /// The highest point of the upper lip, if known.
    public var upperLipTop: Double? { upperLip.map(\.y).min() }

    /// The face's area, to pick the main face.
    public var area: Double { box.width * box.height }
}

/// What the face detector found in one image.
public struct Detection: Sendable, Hashable, Codable {
    /// Detector name and model version, e.g. `none` or `mediapipe-facemesh/0.10.21`.
    public var detector: String
    /// The size of the image the coordinates refer to (after EXIF orientation).
    public var imageSize: PixelSize?
    /// Faces found, largest first.
    public var faces: [Face]

    /// Creates a detection result.
    public init(detector: String, imageSize: PixelSize?, faces: [Face]) {
        self.detector = detector
        self.imageSize = imageSize
        self.faces = faces
    }

    /// The result of not running a detector (strategies that need no faces).
    public static let notNeeded = Detection(detector: "none", imageSize: nil, faces: [])
}
