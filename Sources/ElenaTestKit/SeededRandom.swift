import Foundation

/// A small deterministic random generator (SplitMix64): property-style tests and crash campaigns give the same
/// cases for the same seed, and print the seed so a failure can be replayed.
package struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences.
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededRandom {
    /// A generator for a random campaign: the seed in `variable` when it is set (to replay a failing one), else a new
    /// one; the seed is printed with `label`, so any campaign can be replayed.
    package static func campaign(_ label: String, variable: String = "ELENA_CRASH_SEED") -> (seed: UInt64, random: SeededRandom) {
        let seed = ProcessInfo.processInfo.environment[variable].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
        print("\(label): seed \(seed) (replay with \(variable)=\(seed))")
        return (seed, SeededRandom(seed: seed))
    }
}
