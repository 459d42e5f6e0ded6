package import ElenaCore

/// The compact form of a part's successful steps, as `run_cache_parts` keeps them (migration 15): what
/// `SQLRunStore.cacheIndex(items:)` read from the part's stage-run rows, decoded again with no row looked up.
///
/// Layout (integers little-endian, digests as their 32 raw bytes):
/// - `ERC1` (the format; another reads as nothing);
/// - the distinct summaries: a count, then each as a length and its UTF-8 bytes (most of a part's ingest summaries
///   are the same few);
/// - the steps: a count, then each as its key, a byte of flags (1: an output digest follows, 2: a path, 4: a stamp),
///   those that are there (the path as a length and its bytes; the stamp as size, modification time, inode), and the
///   position of its summary among the distinct ones.
package enum RunCachePart {
    private static let magic: [UInt8] = Array("ERC1".utf8)

    /// The key a part is kept under: the digest of its items' ids in the order asked for.
    package static func key(items: [Digest]) -> Digest {
        var builder = DigestBuilder()
        builder.update(Digest.of("elena-run/run-cache-part/1"))
        for item in items { builder.update(item) }
        return builder.finalize()
    }

    /// The steps in the compact form.
    package static func encode(_ steps: [CacheKey: CachedStep]) -> [UInt8] {
        var bytes = magic
        func append<Number: FixedWidthInteger>(_ number: Number) {
            withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
        }
        func append(_ text: String) {
            append(UInt32(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        var positions: [JSONText: UInt32] = [:]
        var summaries: [JSONText] = []
        for step in steps.values where positions[step.output] == nil {
            positions[step.output] = UInt32(summaries.count)
            summaries.append(step.output)
        }
        bytes.reserveCapacity(16 + summaries.reduce(0) { $0 + 4 + $1.text.utf8.count } + steps.count * 140)
        append(UInt32(summaries.count))
        for summary in summaries { append(summary.text) }
        append(UInt32(steps.count))
        for (key, step) in steps {
            key.digest.append(to: &bytes)
            bytes.append(
                (step.outputDigest == nil ? 0 : 1) | (step.artifactPath == nil ? 0 : 2) | (step.artifactStamp == nil ? 0 : 4))
            step.outputDigest?.append(to: &bytes)
            if let path = step.artifactPath { append(path) }
            if let stamp = step.artifactStamp {
                append(stamp.size)
                append(stamp.mtimeNanoseconds)
                append(stamp.inode)
            }
            append(positions[step.output] ?? 0)
        }
        return bytes
    }

    /// The steps again; nil when the bytes are not a whole part in this form (cut short, another format, damaged).
    package static func decode(_ bytes: [UInt8]) -> [CacheKey: CachedStep]? {
        bytes.withUnsafeBytes { raw -> [CacheKey: CachedStep]? in
            var reader = Reader(raw: raw)
            guard reader.take(magic.count).map({ Array($0) == magic }) == true, let summaryCount = reader.count() else {
                return nil
            }
            var summaries: [JSONText] = []
            summaries.reserveCapacity(summaryCount)
            for _ in 0..<summaryCount {
                guard let text = reader.text() else { return nil }
                summaries.append(JSONText(text: text))
            }
            guard let stepCount = reader.count() else { return nil }
            var steps: [CacheKey: CachedStep] = [:]
            steps.reserveCapacity(stepCount)
            for _ in 0..<stepCount {
                guard let key = reader.digest(), let flags = reader.take(1)?.first, flags & ~7 == 0 else { return nil }
                var step = CachedStep(outputDigest: nil, artifactPath: nil, artifactStamp: nil, output: .null)
                if flags & 1 != 0 {
                    guard let digest = reader.digest() else { return nil }
                    step.outputDigest = digest
                }
                if flags & 2 != 0 {
                    guard let path = reader.text() else { return nil }
                    step.artifactPath = path
                }
                if flags & 4 != 0 {
                    guard let size = reader.number(Int64.self), let modified = reader.number(Int64.self),
                        let inode = reader.number(Int64.self)
                    else { return nil }
                    step.artifactStamp = FileStamp(size: size, mtimeNanoseconds: modified, inode: inode)
                }
                guard let position = reader.number(UInt32.self), Int(position) < summaries.count else { return nil }
                step.output = summaries[Int(position)]
                steps[CacheKey(trusted: key)] = step
            }
            return reader.isAtEnd && steps.count == stepCount ? steps : nil
        }
    }

    /// Reads the form front to back; every read is nil past the end.
    private struct Reader {
        let raw: UnsafeRawBufferPointer
        var offset = 0

        var isAtEnd: Bool { offset == raw.count }

        mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
            guard count >= 0, count <= raw.count - offset else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count])
        }

        mutating func number<Number: FixedWidthInteger>(_: Number.Type) -> Number? {
            guard let bytes = take(MemoryLayout<Number>.size) else { return nil }
            return Number(littleEndian: bytes.loadUnaligned(as: Number.self))
        }

        /// A count of things that follow, each at least one byte (so a damaged count cannot ask for more).
        mutating func count() -> Int? {
            guard let count = number(UInt32.self).map(Int.init), count <= raw.count - offset else { return nil }
            return count
        }

        mutating func text() -> String? {
            guard let length = number(UInt32.self), let bytes = take(Int(length)) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }

        mutating func digest() -> Digest? {
            guard take(32) != nil else { return nil }
            return Digest(raw: raw, at: offset - 32)
        }
    }
}
