import Foundation

/// Splits a PostgreSQL script into statements: on `;` outside quotes, dollar-quoted bodies and comments.
/// (PostgreSQL's extended protocol takes one statement at a time.)
package enum SQLScript {
    /// The statements, trimmed, without empty ones.
    package static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let characters = Array(script)
        var index = 0
        var dollarTag: String?
        var quote: Character?
        while index < characters.count {
            let character = characters[index]
            if let tag = dollarTag {
                if character == "$", String(characters[index..<min(characters.count, index + tag.count)]) == tag {
                    current += tag
                    index += tag.count
                    dollarTag = nil
                    continue
                }
                current.append(character)
                index += 1
                continue
            }
            if let open = quote {
                current.append(character)
                if character == open { quote = nil }
                index += 1
                continue
            }
            if character == "-", index + 1 < characters.count, characters[index + 1] == "-" {
                while index < characters.count, characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "'" || character == "\"" {
                quote = character
                current.append(character)
                index += 1
                continue
            }
            if character == "$" {
                var end = index + 1
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" {
                    end += 1
                }
                if end < characters.count, characters[end] == "$" {
                    let tag = String(characters[index...end])
                    dollarTag = tag
                    current += tag
                    index = end + 1
                    continue
                }
            }
            if character == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
                index += 1
                continue
            }
            current.append(character)
            index += 1
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { statements.append(last) }
        return statements
    }
}
