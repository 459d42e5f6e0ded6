import Foundation

/// Fanvue requires AI-generated media to be disclosed; captions get a disclosure unless they already have one.
public enum Disclosure {
    /// Words that already count as a disclosure (case-insensitive).
    public static let markers = ["#ai", "ai-generated", "ai generated", "aigenerated", "made with ai", "#aiart", "ai art"]

    /// The caption with the disclosure appended when it does not already disclose AI content.
    /// - Parameters:
    ///   - caption: the caption as written (nil means none).
    ///   - disclosure: the text to add, e.g. `#AIgenerated`.
    public static func apply(_ caption: String?, disclosure: String) -> String {
        let text = (caption ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let lowered = text.lowercased()
        if markers.contains(where: lowered.contains) || lowered.contains(disclosure.lowercased()) { return text }
        return text.isEmpty ? disclosure : text + " " + disclosure
    }
}
