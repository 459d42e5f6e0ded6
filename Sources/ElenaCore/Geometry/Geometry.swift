/// A point in image pixels (origin top-left, y grows downwards).
package struct Point: Sendable, Hashable, Codable {
    package var x: Double
    package var y: Double

    /// Creates a point.
    package init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A rectangle in image pixels, with fractional coordinates (detections).
package struct Box: Sendable, Hashable, Codable {
    package var x: Double
    package var y: Double
    package var width: Double
    package var height: Double

    /// Creates a box.
    package init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The bottom edge.
    package var maxY: Double { y + height }
    /// The horizontal centre.
    package var midX: Double { x + width / 2 }
}

/// A rectangle of whole pixels (crops).
package struct PixelRect: Sendable, Hashable, Codable, CustomStringConvertible {
    package var x: Int
    package var y: Int
    package var width: Int
    package var height: Int

    /// Creates a rectangle.
    package init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// `WxH+X+Y`, as ImageMagick writes geometry.
    package var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// Width and height in pixels.
package struct PixelSize: Sendable, Hashable, Codable, CustomStringConvertible {
    package var width: Int
    package var height: Int

    /// Creates a size.
    package init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// `WxH`.
    package var description: String { "\(width)x\(height)" }
}
