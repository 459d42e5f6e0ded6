import ElenaCore
import Foundation
import Testing

@Suite struct DiagnosticTests {
    @Test func manifestErrorRendersLikeACompilerWithACaretUnderTheColumn() throws {
        let text = yaml("version: 1", "drop: drop-03", "source:", "  dir: ~/in", "crop:", "  strategy: no_face", "  margin: abc", "publish:", "  to: folder")
        let error = try #require(throws: ManifestError.self) {
            try ManifestDecoder.decode(text, file: "pipelines/drop-03.yaml")
        }
        #expect(
            error.description == """
                pipelines/drop-03.yaml:7:11: error: 'crop.margin' must be a number, found 'abc'
                      margin: abc
                              ^
                """)
        // The caret sits exactly under the first character of the bad value.
        let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count == 3)
        let caret = try #require(lines[2].firstIndex(of: "^"))
        let caretOffset = lines[2].distance(from: lines[2].startIndex, to: caret)
        let value = try #require(lines[1].range(of: "abc"))
        #expect(caretOffset == lines[1].distance(from: lines[1].startIndex, to: value.lowerBound))
    }

    @Test func everyDiagnosticGetsItsOwnSourceLineAndHint() throws {
        let text = yaml(
            "version: 1", "drop: drop-03", "source:", "  dir: ~/in", "crop:", "  strategy: no_fase", "publish:", "  to: folder",
            "  price: 2")
        let error = try #require(throws: ManifestError.self) { try ManifestDecoder.decode(text, file: "d.yaml") }
        #expect(
            error.description == """
                d.yaml:6:13: error: 'crop.strategy' must be 'no_face', 'lips_only', 'keep', 'top_fraction' or 'auto', not 'no_fase' (did you mean 'no_face'?)
                      strategy: no_fase
                                ^
                d.yaml:9:10: error: 'publish.price' is 2, below the minimum of 3 (Fanvue's minimum price is 3.00 USD)
                      price: 2
                             ^
                """)
    }

    @Test func descriptionHasLocationSeverityMessageAndHint() {
        let location = ElenaCore.SourceLocation(file: "a.yaml", line: 3, column: 5)
        #expect(location.description == "a.yaml:3:5")
        let error = Diagnostic(at: location, key: "crop.x", "unknown key 'x'", hint: "did you mean 'y'?")
        #expect(error.description == "a.yaml:3:5: error: unknown key 'x' (did you mean 'y'?)")
        let warning = Diagnostic(.warning, at: nil, key: "", "the folder is empty")
        #expect(warning.description == "warning: the folder is empty")
    }

    @Test func renderingKeepsTabsSoTheCaretLinesUp() {
        let diagnostic = Diagnostic(at: ElenaCore.SourceLocation(file: "t.yaml", line: 2, column: 3), key: "k", "bad")
        let rendered = diagnostic.rendered(source: "first\n\tx: 1\n")
        #expect(rendered == "t.yaml:2:3: error: bad\n    \tx: 1\n    \t ^")
    }

    @Test func caretAtTheFirstColumn() {
        let diagnostic = Diagnostic(at: ElenaCore.SourceLocation(file: "t.yaml", line: 1, column: 1), key: "k", "bad")
        #expect(diagnostic.rendered(source: "oops: 1") == "t.yaml:1:1: error: bad\n    oops: 1\n    ^")
    }

    @Test func caretPastTheEndOfTheLineStopsAtTheEnd() {
        let diagnostic = Diagnostic(at: ElenaCore.SourceLocation(file: "t.yaml", line: 1, column: 40), key: "k", "bad")
        #expect(diagnostic.rendered(source: "ab") == "t.yaml:1:40: error: bad\n    ab\n      ^")
    }

    @Test(arguments: [0, 5])
    func aLineOutsideTheSourceRendersTheDescriptionOnly(line: Int) {
        let diagnostic = Diagnostic(at: ElenaCore.SourceLocation(file: "t.yaml", line: line, column: 1), key: "k", "bad")
        #expect(diagnostic.rendered(source: "a\nb") == "t.yaml:\(line):1: error: bad")
    }

    @Test func noSourceOrNoLocationRendersTheDescriptionOnly() {
        let located = Diagnostic(at: ElenaCore.SourceLocation(file: "t.yaml", line: 1, column: 1), key: "k", "bad")
        #expect(located.rendered(source: nil) == "t.yaml:1:1: error: bad")
        let unlocated = Diagnostic(at: nil, key: "k", "bad")
        #expect(unlocated.rendered(source: "a: 1") == "error: bad")
        #expect(ManifestError(diagnostics: [located, unlocated], source: nil).description == "t.yaml:1:1: error: bad\nerror: bad")
    }
}
