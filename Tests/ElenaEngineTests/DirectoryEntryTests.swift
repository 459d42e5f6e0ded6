import ElenaEngine
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `readdir` packs its records: each is as long as its name, not the 256 bytes `d_name` is declared with. A name must
/// be read where it is: copying the declared field read past the record, and a record that was the last before
/// unmapped memory crashed the process (about one run in ten of a 100,000-item drop's no-op rerun).
@Suite struct DirectoryEntryTests {
    @Test func aNameIsReadWithinItsRecordEvenAtTheEdgeOfMappedMemory() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Two pages, the second one unreadable: the record ends exactly where the readable memory does.
        let base = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(base != MAP_FAILED)
        defer { munmap(base, 2 * page) }
        #expect(mprotect(base + page, page, PROT_NONE) == 0)

        let name = Array("c.png".utf8) + [0]
        let nameOffset = try #require(MemoryLayout<dirent>.offset(of: \dirent.d_name))
        // As the kernel lays a record out: the name and its zero, rounded up to 8 bytes.
        let length = (nameOffset + name.count + 7) / 8 * 8
        let record = base + page - length
        memset(record, 0, length)
        record.storeBytes(of: UInt16(length), toByteOffset: MemoryLayout<dirent>.offset(of: \dirent.d_reclen) ?? 0, as: UInt16.self)
        name.withUnsafeBytes { record.advanced(by: nameOffset).copyMemory(from: $0.baseAddress!, byteCount: name.count) }

        let entry = record.assumingMemoryBound(to: dirent.self)
        #expect(String(cString: FileSystem.entryName(entry)) == "c.png")
    }

    /// The three listings read names the same way: a folder of many entries (records packed up to the end of
    /// `readdir`'s buffer) lists every name whole.
    @Test func everyListingReadsEveryNameWhole() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("elena-dirent-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Names of every length up to 200 bytes, so records of every size meet the buffer's end somewhere.
        let names = (1...600).map { index in "f\(index)-" + String(repeating: "x", count: index % 200) + ".png" }.sorted()
        for name in names { _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data("x".utf8)) }
        _ = FileManager.default.createFile(atPath: folder + "/.tmp-1-2-left.png", contents: Data())

        #expect(FileSystem.listFiles(folder) == names)
        #expect(try FileSystem.walk(folder, recursive: false).map(\.relativePath) == names)
        // pid 1 runs: its temporary is left alone, and nothing else is taken for one.
        #expect(FileSystem.removeAbandonedTemporaries(in: folder) == 0)
        #expect(FileManager.default.fileExists(atPath: folder + "/.tmp-1-2-left.png"))
    }
}
