import Foundation

/// The README as tests read it: its fenced code blocks, the `elena-run` command lines shown in them, and its links.
package enum ReadmeText {
    /// One fenced block: its language (empty when none) and its text.
    package struct Block: Sendable, Hashable {
        package var language: String
        package var text: String
    }

    /// Every fenced code block, in order.
    package static func blocks(_ markdown: String) -> [Block] {
        var blocks: [Block] = []
        var current: (language: String, lines: [String])?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let open = current {
                    blocks.append(Block(language: open.language, text: open.lines.joined(separator: "\n")))
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), [])
                }
            } else {
                current?.lines.append(String(line))
            }
        }
        return blocks
    }

    /// The `elena-run …` command lines of the shell and plain blocks, as words: a leading `$ ` prompt, a trailing
    /// comment (`#` after spaces) and what follows a pipe or a redirection are left out; quotes group words.
    package static func commands(_ markdown: String) -> [[String]] {
        blocks(markdown).filter { ["", "sh", "console", "bash"].contains($0.language) }.flatMap { block in
            block.text.split(separator: "\n").compactMap { raw -> [String]? in
                var line = String(raw).trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("$ ") { line.removeFirst(2) }
                guard line.hasPrefix("elena-run ") || line == "elena-run" else { return nil }
                if let comment = line.range(of: "  #") { line = String(line[..<comment.lowerBound]) }
                let stop = words(line).firstIndex { ["|", ">", ">>", "2>", "&&", ";"].contains($0) }
                let all = words(line)
                return Array(all[..<(stop ?? all.count)])
            }
        }
    }

    /// Shell-like words: spaces separate, single or double quotes group (no escapes, no expansion).
    package static func words(_ line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var quote: Character?
        var started = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                started = true
            } else if character == " " {
                if started || !word.isEmpty { words.append(word) }
                word = ""
                started = false
            } else {
                word.append(character)
            }
        }
        if started || !word.isEmpty { words.append(word) }
        return words
    }

    /// The targets of the Markdown links (`[text](target)`), without a `#fragment`; web addresses included.
    package static func links(_ markdown: String) -> [String] {
        var targets: [String] = []
        var rest = markdown[...]
        while let open = rest.range(of: "](") {
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: ")") else { break }
            let target = String(after[..<close])
            targets.append(String(target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""))
            rest = after[close...]
        }
        return targets
    }
}
