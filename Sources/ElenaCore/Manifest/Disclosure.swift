import Foundation

/// Fanvue requires AI-generated media to be disclosed; captions get a disclosure unless they already have one.
package enum Disclosure {
    /// Phrases that already count as a disclosure (case-insensitive, as whole words: "Thai art" is not one).
    package static let markers = ["#ai", "ai-generated", "ai generated", "aigenerated", "#aigenerated", "made with ai", "#aiart", "ai art"]

    /// Whether `text` contains `phrase` with no letter or digit right before or after it.
    static func containsWord(_ text: String, _ phrase: String) -> Bool {
        var searchStart = text.startIndex
        while let range = text.range(of: phrase, range: searchStart..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            let isBoundary: (Character?) -> Bool = { $0.map { !$0.isLetter && !$0.isNumber } ?? true }
            if isBoundary(before) && isBoundary(after) { return true }
            searchStart = text.index(after: range.lowerBound)
        }
        return false
    }

    /// The caption with the disclosure appended when it does not already disclose AI content.
    /// - Parameters:
    ///   - caption: the caption as written (nil means none).
    ///   - disclosure: the text to add, e.g. `#AIgenerated`.
    package static func apply(_ caption: String?, disclosure: String) -> String {
        let text = (caption ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let lowered = text.lowercased()
        if (markers + [disclosure.lowercased()]).contains(where: { containsWord(lowered, $0) }) { return text }
        return text.isEmpty ? disclosure : text + " " + disclosure
    }
}
