/// One problem found in a manifest, pointing at the file, line, column and key.
package struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How bad the problem is.
    package enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// Error or warning.
    package var severity: Severity
    /// Where the problem is; `nil` only when the file itself is the problem.
    package var location: SourceLocation?
    /// Dotted path of the key, for example `crop.strategy` or `items[2].match`.
    package var keyPath: String
    /// A full sentence that names the key.
    package var message: String
    /// A suggestion such as `did you mean 'strategy'?`.
    package var hint: String?

    /// Creates a diagnostic.
    package init(
        _ severity: Severity = .error, at location: SourceLocation?, key keyPath: String, _ message: String,
        hint: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.hint = hint
    }

    /// `FILE:LINE:COLUMN: error: message (hint)`.
    package var description: String {
        var text = ""
        if let location { text += "\(location): " }
        text += "\(severity.rawValue): \(message)"
        if let hint { text += " (\(hint))" }
        return text
    }

    /// The one-line description followed by the offending source line and a caret under the column.
    /// - Parameter source: the manifest text the location refers to.
    package func rendered(source: String?) -> String {
        guard let location, let source else { return description }
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard location.line >= 1, location.line <= lines.count else { return description }
        let line = String(lines[location.line - 1])
        let caretColumn = max(0, min(location.column - 1, line.count))
        let pad = String(line.prefix(caretColumn).map { $0 == "\t" ? "\t" : " " })
        return description + "\n    " + line + "\n    " + pad + "^"
    }
}

/// The manifest could not be used: one or more error diagnostics.
package struct ManifestError: Error, Sendable, CustomStringConvertible {
    /// Every problem found, in file order.
    package var diagnostics: [Diagnostic]
    /// The manifest text, used to print the offending lines.
    package var source: String?

    /// Creates the error.
    package init(diagnostics: [Diagnostic], source: String?) {
        self.diagnostics = diagnostics
        self.source = source
    }

    /// All diagnostics, each with its source line.
    package var description: String {
        diagnostics.map { $0.rendered(source: source) }.joined(separator: "\n")
    }
}
