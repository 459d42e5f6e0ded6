import ElenaCore
import ElenaTestKit
import Foundation
import Testing

/// The header sniffer reads untrusted bytes before anything else: valid headers mutated at random (seeded and
/// printed) and plain noise either parse or throw; nothing traps.
@Suite struct ImageHeaderFuzzTests {
    static let seeds: [[UInt8]] = [
        Bytes.png(width: 1024, height: 1536, extra: [Bytes.pngChunk("eXIf", Bytes.exifOrientation(6, bigEndian: false))]),
        [0xFF, 0xD8] + Bytes.jfif + Bytes.app1Exif(Bytes.exifOrientation(8, bigEndian: true)) + Bytes.sof(width: 800, height: 600)
            + Bytes.eoi,
        ImageHeaderTests.webp("VP8X", [0x12, 0, 0, 0] + Bytes.le24(1919) + Bytes.le24(1079)),
        Bytes.ascii("GIF89a") + Bytes.le16(32) + Bytes.le16(16) + [0, 0, 0, 0x3B],
    ]

    /// An APP1 segment shorter than its "Exif" signature once trapped the slice that reads the orientation.
    @Test(arguments: 2...8)
    func aShortExifSegmentIsNotACrash(length: Int) throws {
        let bytes: [UInt8] =
            [0xFF, 0xD8, 0xFF, 0xE1] + Bytes.be16(length) + Bytes.ascii("Exif") + [0, 0] + Bytes.sof(width: 10, height: 10)
        // Either outcome is an answer, not a trap; which one depends on where the short segment ends.
        do {
            let header = try ImageHeader.read(Data(bytes))
            #expect(header.format == .jpeg && header.orientation == 1, "\(header)")
        } catch {
            #expect(error.description.contains("JPEG"), "\(error)")
        }
    }

    /// Runs off Swift's cooperative pool: a long CPU loop there would starve the tests beside it on two cores.
    @Test func mutatedHeadersAndNoiseNeverTrap() async {
        let (parsed, iterations) = await offCooperativePool { Self.mutatedHeadersAndNoiseNeverTrapLoop() }
        #expect(parsed > 0 && parsed < iterations, "the mutations reach both outcomes")
    }

    /// The campaign itself (a trap would end the process): returns (parsed, cases).
    static func mutatedHeadersAndNoiseNeverTrapLoop() -> (Int, Int) {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["ELENA_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20000
        let seed = environment["ELENA_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
        print("image header fuzz: \(iterations) cases, seed \(seed) (replay with ELENA_FUZZ_SEED=\(seed))")
        var random = SeededRandom(seed: seed)
        var parsed = 0
        for index in 0..<iterations {
            var bytes = Self.seeds[index % Self.seeds.count]
            if index % 10 == 9 {
                bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes[at] = [0x00, 0xFF, 0x02, 0x07, 0x7F, 0x80][Int.random(in: 0..<6, using: &random)]
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
                case 3: bytes = Array(bytes.prefix(at))
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
            }
            if (try? ImageHeader.read(Data(bytes))) != nil { parsed += 1 }
        }
        print("image header fuzz: \(parsed) parsed, \(iterations - parsed) refused")
        return (parsed, iterations)
    }
}
