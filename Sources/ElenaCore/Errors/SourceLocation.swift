/// A position in a manifest file, as a compiler would print it.
package struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file as the user named it (kept relative when they gave a relative path).
    package var file: String
    /// Line number, starting at 1.
    package var line: Int
    /// Column number, starting at 1.
    package var column: Int

    /// Creates a location.
    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`.
    package var description: String { "\(file):\(line):\(column)" }
}
