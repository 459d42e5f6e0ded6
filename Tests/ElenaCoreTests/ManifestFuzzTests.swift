import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// A property-based fuzzer over the manifest decoder and validator: valid manifests mutated at random (seeded and
/// printed) either decode or are rejected with errors that name a line and a key; nothing crashes or hangs.
/// `make test` runs a short campaign; `make fuzz` a long one (`ELENA_FUZZ_ITERATIONS`, `ELENA_FUZZ_SEED`).
@Suite struct ManifestFuzzTests {
    static let seeds: [String] = [
        """
        version: 1
        drop: drop-03
        source: {dir: ./in, include: ["*.png", "*.jpg"], exclude: ["*_tmp*"]}
        crop: {strategy: lips_only, margin: 0.04, aspect: "4:5", min_height: 700, fallback: top_fraction, top_fraction: 0.3}
        publish:
          to: fanvue
          vault: elena-ppv
          price: 12.00
          tags: [dress, red]
          caption: "New set"
          post: {audience: subscribers, price: 15.00, at: 2026-12-01T18:00:00Z, allow_ppv_items: true}
          message: {to: [7c1b1c1e-1111-4aaa-8bbb-000000000001], price: 20.00, text: "for you"}
        items:
          - match: "ComfyUI_0004*"
            price: 20.00
            tags: [premium]
            crop: {strategy: no_face}
        """,
        """
        version: 1
        drop: demo
        library: ../demo-library
        source:
          dir: ../examples/demo/images
        crop:
          strategy: top_fraction
          top_fraction: 0.30
          format: png
        publish:
          to: folder
          outbox: ./out
        """,
    ]

    /// Characters that matter to YAML and to the decoder.
    static let alphabet = Array(":-[]{}\"'#&*!|>%@`,? \t\n\r\\0123456789.eE+_abcxyzé😀\u{0}\u{FEFF}")

    static func mutate(_ text: String, random: inout SeededRandom) -> String {
        var characters = Array(text)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        switch Int.random(in: 0..<9, using: &random) {
        case 0 where !characters.isEmpty:
            characters.remove(at: Int.random(in: 0..<characters.count, using: &random))
        case 1:
            characters.insert(
                alphabet.randomElement(using: &random) ?? " ", at: Int.random(in: 0...characters.count, using: &random))
        case 2 where !characters.isEmpty:
            characters[Int.random(in: 0..<characters.count, using: &random)] = alphabet.randomElement(using: &random) ?? " "
        case 3 where !lines.isEmpty:
            let index = Int.random(in: 0..<lines.count, using: &random)
            lines.insert(lines[index], at: index)
            return lines.joined(separator: "\n")
        case 4 where lines.count > 1:
            lines.swapAt(Int.random(in: 0..<lines.count, using: &random), Int.random(in: 0..<lines.count, using: &random))
            return lines.joined(separator: "\n")
        case 5:
            return String(characters.prefix(Int.random(in: 0...characters.count, using: &random)))
        case 6 where !lines.isEmpty:
            // A value of the wrong type or range.
            let index = Int.random(in: 0..<lines.count, using: &random)
            if let colon = lines[index].firstIndex(of: ":") {
                let values = ["", " -1", " 1e309", " [a, b]", " {x: 1}", " null", " true", " 3.14159", " ~", " \"\"", " 99999999999999999999", " -0.5", " 'x:y'"]
                lines[index] = String(lines[index][...colon]) + (values.randomElement(using: &random) ?? "")
            }
            return lines.joined(separator: "\n")
        case 7 where !lines.isEmpty:
            // Indentation moved.
            let index = Int.random(in: 0..<lines.count, using: &random)
            lines[index] = (Bool.random(using: &random) ? "  " : "") + lines[index].drop { $0 == " " && Bool.random(using: &random) }
            return lines.joined(separator: "\n")
        default:
            // A key renamed (a typo).
            let index = Int.random(in: 0..<max(1, lines.count), using: &random)
            if lines.indices.contains(index), let colon = lines[index].firstIndex(of: ":"), colon > lines[index].startIndex {
                var key = Array(lines[index][..<colon])
                if let position = key.indices.randomElement(using: &random), key[position] != " " && key[position] != "-" {
                    key[position] = "q"
                }
                lines[index] = String(key) + lines[index][colon...]
            }
            return lines.joined(separator: "\n")
        }
        return String(characters)
    }

    @Test func theSeedsAreValid() throws {
        for seed in Self.seeds { _ = try ManifestDecoder.decode(seed, file: "seed.yaml") }
    }

    /// Runs off Swift's cooperative pool: a long CPU loop there would starve the tests beside it on two cores.
    @Test func mutatedManifestsDecodeOrFailWithLocatedErrors() async {
        let problems = await offCooperativePool { Self.mutatedManifestsDecodeOrFailWithLocatedErrorsLoop() }
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n\n"))")
    }

    /// The campaign itself; returns what went wrong (assertions are made by the caller, on the test's task).
    static func mutatedManifestsDecodeOrFailWithLocatedErrorsLoop() -> [String] {
        var problems: [String] = []
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["ELENA_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 3000
        let seed = environment["ELENA_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
        print("manifest fuzz: \(iterations) cases, seed \(seed) (replay with ELENA_FUZZ_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        var accepted = 0
        var rejected = 0
        for index in 0..<iterations {
            var text = Self.seeds[index % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) { text = Self.mutate(text, random: &random) }
            do {
                _ = try ManifestDecoder.decode(text, file: "fuzz.yaml")
                accepted += 1
            } catch {
                // (The decoder's errors are typed: every rejection is a ManifestError.)
                rejected += 1
                let errors = error.diagnostics.filter { $0.severity == .error }
                if errors.isEmpty { problems.append("a rejection with no error (seed \(seed), case \(index)):\n\(text)") }
                for diagnostic in errors {
                    // Unlocated only when the file as a whole is the problem (empty, not YAML, not a mapping).
                    let located = diagnostic.location.map { $0.line >= 1 && $0.file == "fuzz.yaml" } ?? diagnostic.keyPath.isEmpty
                    if !located { problems.append("an unlocated error (seed \(seed), case \(index)): \(diagnostic)\n\(text)") }
                    if diagnostic.message.isEmpty { problems.append("an empty message (seed \(seed), case \(index))") }
                }
                if errors.contains(where: { $0.location == nil && !$0.keyPath.isEmpty }) { break }
            }
        }
        print("manifest fuzz: \(accepted) accepted, \(rejected) rejected with located errors")
        if accepted + rejected != iterations { problems.append("stopped early at \(accepted + rejected) cases") }
        if rejected <= iterations / 10 { problems.append("the mutations did not reach the validator: \(rejected) rejected") }
        return problems
    }
}
