/// Shell-style wildcard matching for file names: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`, and `\` escapes.
package struct Glob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    package let pattern: String
    private let characters: [Character]
    /// Whether letter case is ignored (file extensions like `.PNG` vs `.png`).
    package let caseInsensitive: Bool
    /// Whether the pattern names folders (has a `/`): it is then matched against a whole relative path, else
    /// against a file name.
    package let spansFolders: Bool
    /// For a pattern that is `*` and then plain ASCII text (`*.png`, the usual kind): that text's bytes, lowercased
    /// when case is ignored. An ASCII name is then matched by its last bytes, with no copy of it made (discovery
    /// matches every file of a folder of 100,000 against each pattern).
    private let asciiSuffix: [UInt8]?

    /// Creates a matcher.
    package init(_ pattern: String, caseInsensitive: Bool = false) {
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
        self.characters = Array(caseInsensitive ? pattern.lowercased() : pattern)
        self.spansFolders = pattern.utf8.contains(UInt8(ascii: "/"))
        let rest = pattern.utf8.dropFirst()
        let special = Set("*?[\\\r\n".utf8)
        if pattern.utf8.first == UInt8(ascii: "*"), rest.allSatisfy({ $0 < 0x80 && !special.contains($0) }) {
            self.asciiSuffix = rest.map { caseInsensitive ? Self.lowercase($0) : $0 }
        } else {
            self.asciiSuffix = nil
        }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }

    /// The pattern.
    package var description: String { pattern }

    /// Whether `name` matches the whole pattern.
    package func matches(_ name: String) -> Bool {
        if let asciiSuffix, name.utf8.allSatisfy({ $0 < 0x80 }) {
            // An ASCII name's characters are its bytes (a carriage return and line feed aside, which the suffix
            // holds neither of), and lowercasing it changes A-Z alone.
            let bytes = name.utf8
            guard bytes.count >= asciiSuffix.count else { return false }
            return zip(bytes.suffix(asciiSuffix.count), asciiSuffix).allSatisfy { (caseInsensitive ? Self.lowercase($0) : $0) == $1 }
        }
        let text = Array(caseInsensitive ? name.lowercased() : name)
        return Self.match(characters[...], text[...])
    }

    private static func match(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        var starP: Int?
        var starT = 0
        while t < text.endIndex {
            if p < pattern.endIndex {
                let token = pattern[p]
                if token == "*" {
                    starP = p
                    starT = t
                    p += 1
                    continue
                }
                if let (matched, next) = single(pattern, at: p, text[t]), matched {
                    p = next
                    t += 1
                    continue
                }
            }
            guard let star = starP else { return false }
            p = star + 1
            starT += 1
            t = starT
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// Matches one non-star token at `index` against `character`; returns whether it matched and the next index.
    private static func single(_ pattern: ArraySlice<Character>, at index: Int, _ character: Character) -> (Bool, Int)? {
        let token = pattern[index]
        switch token {
        case "?":
            return (true, index + 1)
        case "\\" where index + 1 < pattern.endIndex:
            return (pattern[index + 1] == character, index + 2)
        case "[":
            var cursor = index + 1
            var negate = false
            if cursor < pattern.endIndex, pattern[cursor] == "!" || pattern[cursor] == "^" {
                negate = true
                cursor += 1
            }
            var matched = false
            var first = true
            while cursor < pattern.endIndex, pattern[cursor] != "]" || first {
                first = false
                let low = pattern[cursor]
                if cursor + 2 < pattern.endIndex, pattern[cursor + 1] == "-", pattern[cursor + 2] != "]" {
                    if low <= character && character <= pattern[cursor + 2] { matched = true }
                    cursor += 3
                } else {
                    if low == character { matched = true }
                    cursor += 1
                }
            }
            guard cursor < pattern.endIndex else { return (token == character, index + 1) }  // no closing bracket
            return (matched != negate, cursor + 1)
        default:
            return (token == character, index + 1)
        }
    }
}
