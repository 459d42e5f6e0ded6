import ArgumentParser
import ElenaCore
import ElenaStore
import Foundation

/// `elena-dev bench-find --count 100000`: what `find` costs against a library of N fingerprints — reading them from
/// a SQLite ledger that holds them, and comparing a picture with every one (a scan).
struct BenchFind: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-find", abstract: "Measure find against a ledger of N fingerprints: the read and the scan.")

    @Option(help: "How many items the ledger holds.")
    var count = 100_000

    @Option(help: "Where to keep the ledger (built once).")
    var folder = ".build/bench-data/find"

    func run() async throws {
        var random = SystemRandomNumberGenerator()
        func picture() -> PictureFingerprint {
            PictureFingerprint(
                structure: Fingerprint(kind: .phash, bytes: (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }),
                colour: Fingerprint(kind: .chroma, bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }))
        }
        let path = folder + "/elena-\(count).db"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try await SQLRunStore.open(DatabaseURL(sqlitePath: path), readOnly: false)
        if try await store.fingerprints(items: nil).count < count {
            print("building a ledger of \(count) fingerprinted items in \(path)")
            let now = Date()
            var batch: [ItemRecord] = []
            for index in 0..<count {
                let id = Digest.of("bench-find-\(index)")
                batch.append(ItemRecord(id: id, drop: "bench", originalName: "image-\(index).png", originalPath: "/bench/\(index)", status: .inReview, createdAt: now, updatedAt: now))
                if batch.count == 5000 || index == count - 1 {
                    try await store.upsertItems(batch, sourcePaths: [:])
                    try await store.updateItems(batch.map { ($0.id, ItemUpdate(fingerprints: ItemFingerprints(picture: picture(), crop: picture()))) }, at: now)
                    batch.removeAll()
                }
            }
        }
        await store.close()

        let reader = try await SQLRunStore.open(DatabaseURL(sqlitePath: path), readOnly: true)
        let start = ContinuousClock.now
        let library = try await reader.fingerprints(items: nil)
        let read = ContinuousClock.now - start
        await reader.close()
        let queries = (0..<20).map { _ in [picture(), picture()] }
        let scanStart = ContinuousClock.now
        let items = library.map { (id: $0.key, prints: $0.value) }
        var near = 0
        for query in queries { near += NearDuplicates.nearest(to: query, in: items).count }
        let scan = (ContinuousClock.now - scanStart) / queries.count  // the index of integers is built per query, as find does
        func ms(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        print(String(format: "find_read_ms %.1f", ms(read)))
        print(String(format: "find_scan_ms %.1f", ms(scan)))
        print("fingerprints \(library.count) queries \(queries.count) near \(near)")
    }
}
