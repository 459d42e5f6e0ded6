import Foundation
internal import Crypto

/// The identity of one node's work: a hash of the stage's name and version, its resolved parameters and the
/// content digests of its inputs. Two nodes with the same key would produce the same output, so a key with a
/// successful record never runs again.
package struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    /// The key as a digest.
    package let digest: Digest

    /// Builds the key. Each part is length-prefixed so no two different tuples can give the same byte stream.
    /// - Parameters:
    ///   - stage: stage name, e.g. `crop`.
    ///   - version: bumped whenever the stage's output for the same inputs could change.
    ///   - parameters: canonical JSON of the resolved parameters (see `JSONValue.serialized(canonical:)`).
    ///   - inputs: named input digests (order does not matter).
    package init(stage: String, version: Int, parameters: String, inputs: [(name: String, digest: Digest)]) {
        // The parts are laid out in one buffer and hashed at once (a run of 100,000 items makes half a million keys;
        // a hasher fed part by part spent more on the calls than on the hashing). The bytes are the same as ever.
        var message: [UInt8] = []
        message.reserveCapacity(96 + parameters.utf8.count + inputs.count * (48 + 32))
        func add(_ text: String) {
            let length = UInt64(text.utf8.count).bigEndian
            withUnsafeBytes(of: length) { message.append(contentsOf: $0) }
            message.append(contentsOf: text.utf8)
        }
        add("elena-run/cache-key/2")
        add(stage)
        add(String(version))
        add(parameters)
        // Most nodes give a few inputs, many already in order: no sorted copy for those, an insertion sort (stable,
        // like the general sort) for a few out of order, cheaper than a general sort's set-up for three or four; a
        // collector's hundred thousand take the general sort.
        var ordered = inputs
        if ordered.count > 8 {
            ordered.sort { $0.name < $1.name }
        } else if !zip(inputs, inputs.dropFirst()).allSatisfy({ $0.name <= $1.name }) {
            for next in 1..<ordered.count {
                var position = next
                while position > 0, ordered[position].name < ordered[position - 1].name {
                    ordered.swapAt(position, position - 1)
                    position -= 1
                }
            }
        }
        for input in ordered {
            add(input.name)
            input.digest.append(to: &message)
        }
        digest = Digest(bytes: SHA256.hash(data: message))
    }

    /// Wraps a digest read back from the store.
    package init(trusted digest: Digest) { self.digest = digest }

    /// The hex text of the key.
    package var description: String { digest.hex }
}
