import Foundation
internal import Crypto

/// The identity of one node's work: a hash of the stage's name and version, its resolved parameters and the
/// content digests of its inputs. Two nodes with the same key would produce the same output, so a key with a
/// successful record never runs again.
package struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    /// The key as a digest.
    package let digest: Digest

    /// The parts of a key that every node of a stage with the same parameters shares (the format tag, the stage's
    /// name and version, its parameters), laid out once: a no-op rerun of 100,000 items makes 300,000 keys from a few
    /// sets of parameters.
    package struct Prefix: Sendable {
        /// The format tag, the stage's name and its version, as text parts.
        fileprivate let head: [UInt8]
        /// The parameters' text (its part follows `head`).
        fileprivate let parameters: String
        /// `head` and the parameters' part.
        fileprivate let bytes: [UInt8]

        /// The shared parts of the keys of `stage` at `version` with `parameters` (see `CacheKey.init`).
        package init(stage: String, version: Int, parameters: String) {
            var head: [UInt8] = []
            head.reserveCapacity(48 + stage.utf8.count)
            CacheKey.add("elena-run/cache-key/2", to: &head)
            CacheKey.add(stage, to: &head)
            CacheKey.add(String(version), to: &head)
            var bytes = head
            CacheKey.add(parameters, to: &bytes)
            self.head = head
            self.parameters = parameters
            self.bytes = bytes
        }

        /// The bytes with an item's own parameters after the shared ones (`parameters`, a line break, `own`).
        fileprivate func bytes(own: String?) -> [UInt8] {
            guard let own else { return bytes }
            var bytes = head
            DigestParts.append(count: parameters.utf8.count + 1 + own.utf8.count, to: &bytes)
            bytes.append(contentsOf: parameters.utf8)
            bytes.append(UInt8(ascii: "\n"))
            bytes.append(contentsOf: own.utf8)
            return bytes
        }
    }

    /// An input a drop-level node collects from one item: named `stage:<the item's hex id>`, given without making
    /// that name (a collector's key names every item of the drop).
    package struct Collected: Sendable {
        package var stage: String
        package var item: Digest
        package var digest: Digest

        /// The input `stage:<item hex>` with `digest`.
        package init(stage: String, item: Digest, digest: Digest) {
            self.stage = stage
            self.item = item
            self.digest = digest
        }
    }

    /// Builds the key. Each part is length-prefixed so no two different tuples can give the same byte stream.
    /// - Parameters:
    ///   - stage: stage name, e.g. `crop`.
    ///   - version: bumped whenever the stage's output for the same inputs could change.
    ///   - parameters: canonical JSON of the resolved parameters (see `JSONValue.serialized(canonical:)`).
    ///   - inputs: named input digests (order does not matter).
    package init(stage: String, version: Int, parameters: String, inputs: [(name: String, digest: Digest)]) {
        self.init(prefix: Prefix(stage: stage, version: version, parameters: parameters), inputs: inputs)
    }

    /// Builds the key from its shared parts and its inputs: the same bytes as `init(stage:version:parameters:inputs:)`
    /// with each collected input given as `(stage + ":" + item.hex, digest)`.
    package init(prefix: Prefix, inputs: [(name: String, digest: Digest)], collected: [Collected] = []) {
        self.init(prefix: prefix, inputs: inputs, collectedCount: collected.count) { collected[$0] }
    }

    /// The same, with the collected inputs read by position as the key is laid out (each a few times): a runner
    /// reads them from its states in place, and a collector's 100,000 inputs are never copied out as values.
    /// - Parameter own: an item's own parameters, laid out after the prefix's (its parameters' part is then the
    ///   shared parameters, a line break and these): the key of `Prefix(stage:version:parameters:)` with those
    ///   parameters, without making that prefix for each item.
    package init(
        prefix: Prefix, own: String? = nil, inputs: [(name: String, digest: Digest)], collectedCount: Int,
        collected: (_ position: Int) -> Collected
    ) {
        // Most nodes give a few inputs, many already in order: no sorted copy for those, an insertion sort (stable,
        // like the general sort) for a few out of order, cheaper than a general sort's set-up for three or four.
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
        if collectedCount == 0 {
            digest = Self.digest(prefix, own: own, ordered)
            return
        }
        // The parts are laid out in one buffer and hashed at once. A collector's hundred thousand inputs go to the
        // hasher a buffer at a time instead of being laid out whole.
        let chunk = 1 << 16
        var message = prefix.bytes(own: own)
        message.reserveCapacity(min(chunk + 256, message.count + inputs.count * (48 + 32) + collectedCount * 128))
        var hasher: SHA256?
        func spill() {
            guard message.count >= chunk else { return }
            if hasher == nil { hasher = SHA256() }
            hasher?.update(data: message)
            message.removeAll(keepingCapacity: true)
        }
        // A collected input's name is its stage, a colon, then the item's hex id. Stage names hold no colon, so
        // names order as (stage, item) do, and the digests order as their hex does: no name is made to sort them.
        // Their positions are sorted (empty: already in order), by the stage's rank among the stages and the item,
        // so the sort compares numbers and digests and copies no string (sorting a drop's 100,000 inputs
        // themselves took a tenth of a second).
        var order: [Int] = []
        var stages: Set<String> = []
        for position in 0..<collectedCount { stages.insert(collected(position).stage) }
        let rank = Dictionary(uniqueKeysWithValues: stages.sorted().enumerated().map { ($1, $0) })
        var sortKeys = (0..<collectedCount).map { position in
            let input = collected(position)
            return (rank: rank[input.stage] ?? 0, item: input.item, index: position)
        }
        if !zip(sortKeys, sortKeys.dropFirst()).allSatisfy({ ($0.rank, $0.item) <= ($1.rank, $1.item) }) {
            sortKeys.sort { ($0.rank, $0.item) < ($1.rank, $1.item) }
            order = sortKeys.map(\.index)
        }
        let inOrder = order.isEmpty
        var next = 0
        func nextCollected() -> Collected { collected(inOrder ? next : order[next]) }
        func appendCollected() {
            Self.append(nextCollected(), to: &message)
            next += 1
            spill()
        }
        for input in ordered {
            // The collected inputs whose names come first (found by their bytes: the few plain names each compare
            // with at most the collected ones before them).
            while next < collectedCount, Self.precedes(nextCollected(), input.name) { appendCollected() }
            Self.add(input.name, to: &message)
            input.digest.append(to: &message)
        }
        while next < collectedCount { appendCollected() }
        if var hasher {
            hasher.update(data: message)
            digest = Digest(bytes: hasher.finalize())
        } else {
            digest = Digest(bytes: SHA256.hash(data: message))
        }
    }

    /// A key without collected inputs (most keys: a no-op rerun of 100,000 items makes 200,000), laid out in one
    /// buffer on the stack and hashed: the same bytes as the general layout, without the array, its copy of the
    /// prefix, or a prefix made for an item's own parameters, which cost more than the hash.
    private static func digest(_ prefix: Prefix, own: String?, _ inputs: [(name: String, digest: Digest)]) -> Digest {
        let ownLength = own.map { prefix.parameters.utf8.count + 1 + $0.utf8.count }
        var size = ownLength.map { prefix.head.count + 8 + $0 } ?? prefix.bytes.count
        for input in inputs { size += 8 + input.name.utf8.count + 32 }
        return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer -> Digest in
            var offset = 0
            func copy(_ bytes: UnsafeRawBufferPointer) {
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
                (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
                offset += bytes.count
            }
            func copy(_ text: String) {
                // A native string's bytes lie together; any other's are copied out first.
                if text.utf8.withContiguousStorageIfAvailable({ copy(UnsafeRawBufferPointer($0)) }) == nil {
                    Array(text.utf8).withUnsafeBytes { copy($0) }
                }
            }
            func count(_ value: Int) {
                buffer.storeBytes(of: UInt64(value).bigEndian, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            if let own, let ownLength {
                prefix.head.withUnsafeBytes { copy($0) }
                count(ownLength)
                copy(prefix.parameters)
                buffer.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: offset, as: UInt8.self)
                offset += 1
                copy(own)
            } else {
                prefix.bytes.withUnsafeBytes { copy($0) }
            }
            for input in inputs {
                count(input.name.utf8.count)
                copy(input.name)
                input.digest.store(to: buffer.baseAddress! + offset)
                offset += 32
            }
            precondition(offset == size, "a cache key's bytes were miscounted (a bug)")
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            return Digest(bytes: hasher.finalize())
        }
    }

    /// A text part (`DigestParts`).
    private static func add(_ text: String, to message: inout [UInt8]) { DigestParts.append(text, to: &message) }

    /// A collected input: its name `stage:<item hex>` as a text part, then its digest.
    private static func append(_ input: Collected, to message: inout [UInt8]) {
        DigestParts.append(count: input.stage.utf8.count + 1 + 64, to: &message)
        message.append(contentsOf: input.stage.utf8)
        message.append(UInt8(ascii: ":"))
        input.item.appendHex(to: &message)
        input.digest.append(to: &message)
    }

    /// Whether a collected input's name orders before `name`, as Swift orders these ASCII names: by their bytes.
    private static func precedes(_ input: Collected, _ name: String) -> Bool {
        var collectedName = Array(input.stage.utf8)
        collectedName.append(UInt8(ascii: ":"))
        input.item.appendHex(to: &collectedName)
        return collectedName.lexicographicallyPrecedes(name.utf8)
    }

    /// Wraps a digest read back from the store.
    package init(trusted digest: Digest) { self.digest = digest }

    /// The hex text of the key.
    package var description: String { digest.hex }
}
