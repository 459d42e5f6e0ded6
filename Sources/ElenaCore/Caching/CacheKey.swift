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
        var hasher = SHA256()
        func add(_ text: String) {
            var length = UInt64(text.utf8.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            var text = text
            text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        add("elena-run/cache-key/2")
        add(stage)
        add(String(version))
        add(parameters)
        for input in inputs.sorted(by: { $0.name < $1.name }) {
            add(input.name)
            input.digest.feed(&hasher)
        }
        digest = Digest(bytes: hasher.finalize())
    }

    /// Wraps a digest read back from the store.
    package init(trusted digest: Digest) { self.digest = digest }

    /// The hex text of the key.
    package var description: String { digest.hex }
}
