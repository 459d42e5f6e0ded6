/// Fanvue names fans, media, lists and messages by UUID; smart lists by a word. One test tells them apart.
package enum UUIDText {
    /// Whether `text` is a UUID: 8-4-4-4-12 hexadecimal digits.
    package static func isUUID(_ text: some StringProtocol) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}
