package import ElenaCore
import ElenaVision
package import Foundation

/// Deterministic, non-explicit pictures of a stylised figure (head, hair, dress) on a gradient, for examples,
/// tests and benchmarks. No real person: the "face" is an ellipse with dots for eyes and a red mouth.
package struct SyntheticImage: Sendable {
    /// Width in pixels.
    package var width: Int
    /// Height in pixels.
    package var height: Int
    /// Varies colours and positions.
    package var seed: UInt64

    /// Creates a description.
    package init(width: Int, height: Int, seed: UInt64) {
        self.width = width
        self.height = height
        self.seed = seed
    }

    /// Where the drawn face is, so tests can check crops.
    package struct Layout: Sendable {
        /// Centre of the head.
        package var headCentre: Point
        /// Head radii.
        package var headRadiusX: Double
        package var headRadiusY: Double
        /// The chin (lowest point of the head).
        package var chinY: Double { headCentre.y + headRadiusY }
        /// Top of the hair.
        package var hairTopY: Double { headCentre.y - headRadiusY * 1.15 }
    }

    struct Random {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    /// The face placement for this seed.
    package var layout: Layout {
        var random = Random(state: seed &* 2_654_435_761 &+ 17)
        let w = Double(width)
        let h = Double(height)
        let rx = w * (0.11 + 0.03 * random.next())
        return Layout(
            headCentre: Point(x: w * (0.42 + 0.16 * random.next()), y: h * (0.13 + 0.06 * random.next())),
            headRadiusX: rx, headRadiusY: rx * 1.3)
    }

    /// Packed BGR pixels.
    package func pixels() -> [UInt8] {
        var random = Random(state: seed &* 2_654_435_761 &+ 17)
        _ = (random.next(), random.next(), random.next())  // the layout's draws
        let top = (random.next() * 120 + 80, random.next() * 120 + 80, random.next() * 120 + 80)
        let bottom = (random.next() * 90 + 20, random.next() * 90 + 20, random.next() * 90 + 20)
        let dress = (random.next() * 200 + 30, random.next() * 120 + 20, random.next() * 200 + 30)
        let skin = (150.0 + random.next() * 40, 175.0 + random.next() * 30, 215.0 + random.next() * 30)
        let hair = (20.0 + random.next() * 40, 30.0 + random.next() * 40, 40.0 + random.next() * 60)
        let face = layout
        let w = Double(width)
        let h = Double(height)
        var out = [UInt8](repeating: 0, count: width * height * 3)

        func inEllipse(_ x: Double, _ y: Double, _ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double) -> Bool {
            let dx = (x - cx) / rx
            let dy = (y - cy) / ry
            return dx * dx + dy * dy <= 1
        }
        let neckHalf = face.headRadiusX * 0.35
        let shoulderY = face.chinY + face.headRadiusY * 0.35
        let eyeY = face.headCentre.y - face.headRadiusY * 0.15
        let eyeDX = face.headRadiusX * 0.38
        let eyeR = face.headRadiusX * 0.09
        let mouthY = face.headCentre.y + face.headRadiusY * 0.5
        for row in 0..<height {
            let y = Double(row) + 0.5
            let t = y / h
            let background = (
                top.0 + (bottom.0 - top.0) * t, top.1 + (bottom.1 - top.1) * t, top.2 + (bottom.2 - top.2) * t
            )
            let dressHalf = w * 0.16 + (y - shoulderY) * 0.25
            for column in 0..<width {
                let x = Double(column) + 0.5
                var colour = background
                if y >= shoulderY, abs(x - face.headCentre.x) <= dressHalf {
                    colour = dress
                } else if y >= face.headCentre.y, y < shoulderY, abs(x - face.headCentre.x) <= neckHalf {
                    colour = skin
                }
                if inEllipse(x, y, face.headCentre.x, face.headCentre.y - face.headRadiusY * 0.12, face.headRadiusX * 1.12, face.headRadiusY * 1.03) {
                    colour = hair
                }
                if inEllipse(x, y, face.headCentre.x, face.headCentre.y, face.headRadiusX, face.headRadiusY) {
                    colour = skin
                    if inEllipse(x, y, face.headCentre.x - eyeDX, eyeY, eyeR, eyeR) || inEllipse(x, y, face.headCentre.x + eyeDX, eyeY, eyeR, eyeR) {
                        colour = (40, 30, 30)
                    } else if inEllipse(x, y, face.headCentre.x, mouthY, face.headRadiusX * 0.32, face.headRadiusY * 0.08) {
                        colour = (60, 40, 190)
                    }
                }
                let index = (row * width + column) * 3
                out[index] = UInt8(max(0, min(255, colour.0)))
                out[index + 1] = UInt8(max(0, min(255, colour.1)))
                out[index + 2] = UInt8(max(0, min(255, colour.2)))
            }
        }
        return out
    }

    /// The picture rotated 90° counter-clockwise: stored this way with EXIF orientation 6, it displays upright.
    package func pixelsRotatedCounterClockwise() -> (pixels: [UInt8], width: Int, height: Int) {
        let source = pixels()
        var out = [UInt8](repeating: 0, count: source.count)
        // Rotating CCW: new width = height, new height = width; new(x', y') = old(x = width-1-y', y = x').
        let newWidth = height
        let newHeight = width
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                let oldX = width - 1 - y
                let oldY = x
                let from = (oldY * width + oldX) * 3
                let to = (y * newWidth + x) * 3
                out[to] = source[from]
                out[to + 1] = source[from + 1]
                out[to + 2] = source[from + 2]
            }
        }
        return (out, newWidth, newHeight)
    }

    /// Encoded as PNG or JPEG (no metadata yet).
    package func encoded(_ format: ImageFormat, quality: Int = 90) throws -> Data {
        let image = try OpenCVCodec.image(bgr: pixels(), width: width, height: height)
        return try image.encode(PixelRect(x: 0, y: 0, width: width, height: height), format: format, quality: quality)
    }
}
