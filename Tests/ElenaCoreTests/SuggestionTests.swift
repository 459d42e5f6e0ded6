import ElenaCore
import Testing

@Suite struct SuggestionTests {
    static let cropKeys = ["strategy", "fallback", "top_fraction", "margin", "aspect", "min_height", "format", "quality"]

    @Test(arguments: [
        ("stratgy", "strategy"),  // a letter dropped
        ("strategi", "strategy"),  // a letter changed
        ("stratgey", "strategy"),  // two letters swapped
        ("STRATEGY", "strategy"),  // case is ignored
        ("margn", "margin"),
        ("top-fraction", "top_fraction"),
        ("topfraction", "top_fraction"),
        ("qualty", "quality"),
        ("minheight", "min_height"),
        ("aspect_ratio", "aspect"),  // too far by distance, but the key is a prefix of the word
        ("formats", "format"),
    ])
    func suggestsTheIntendedKey(typo: String, expected: String) {
        #expect(Suggestion.closest(to: typo, in: Self.cropKeys) == expected)
    }

    @Test(arguments: ["colour", "banana", "zzzzzzzz", "x"])
    func suggestsNothingForUnrelatedWords(word: String) {
        #expect(Suggestion.closest(to: word, in: Self.cropKeys) == nil)
    }

    @Test func suggestsEnumValues() {
        #expect(Suggestion.closest(to: "no_fase", in: CropStrategy.allCases.map(\.rawValue)) == "no_face")
        #expect(Suggestion.closest(to: "fanveu", in: ["folder", "fanvue"]) == "fanvue")
    }

    @Test func aPrefixOfALongerCandidateIsSuggested() {
        // `strategy: lips` and `min: 900` are plausible slips; the prefix rule exists for them, but it is only tried
        // on the candidate closest by edit distance ("keep", "margin"), so it never fires here.
        #expect(Suggestion.closest(to: "lips", in: CropStrategy.allCases.map(\.rawValue)) == "lips_only")
        #expect(Suggestion.closest(to: "min", in: Self.cropKeys) == "min_height")
    }

    @Test func noCandidatesMeansNoSuggestion() {
        #expect(Suggestion.closest(to: "anything", in: []) == nil)
    }

    @Test func theFirstOfEquallyCloseCandidatesWins() {
        #expect(Suggestion.closest(to: "cat", in: ["bat", "hat"]) == "bat")
        #expect(Suggestion.closest(to: "cat", in: ["hat", "bat"]) == "hat")
    }

    @Test(arguments: [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("same", "same", 0),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("ab", "ba", 1),  // an adjacent swap is one edit
        ("stratgey", "strategy", 1),
        ("ca", "abc", 3),  // restricted Damerau-Levenshtein: no edit of a swapped pair
        ("Strategy", "strategy", 1),  // editDistance itself is case-sensitive
        ("café", "cafe", 1),  // characters, not bytes
    ])
    func editDistance(a: String, b: String, expected: Int) {
        #expect(Suggestion.editDistance(a, b) == expected)
        #expect(Suggestion.editDistance(b, a) == expected)
    }
}
