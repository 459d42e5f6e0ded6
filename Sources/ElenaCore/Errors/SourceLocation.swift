/// A position in a manifest file, as a compiler would print it.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file as the user named it (kept relative when they gave a relative path).
    public var file: String
    /// Line number, starting at 1.
    public var line: Int
    /// Column number, starting at 1.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`.
    public var description: String { "\(file):\(line):\(column)" }
}
