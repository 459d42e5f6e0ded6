import ElenaCore
import Foundation
import Testing

@Suite struct AspectRatioTests {
    @Test func parsesWidthColonHeight() throws {
        let ratio = try #require(AspectRatio("4:5"))
        #expect(ratio.width == 4)
        #expect(ratio.height == 5)
        #expect(ratio.value == 0.8)
        #expect(ratio.description == "4:5")
        #expect(ratio == AspectRatio(width: 4, height: 5))
        #expect(AspectRatio("16:9")?.value == 16.0 / 9.0)
        #expect(AspectRatio("1:1")?.value == 1)
    }

    @Test(arguments: ["", "4", "4x5", "4:", ":5", "0:5", "4:0", "-4:5", "a:b", "4:5:6", " 4:5", "4.5:5"])
    func rejectsOtherText(text: String) {
        #expect(AspectRatio(text) == nil)
    }

    @Test func codableRoundTrip() throws {
        let spec = CropSpec(strategy: .keep, aspect: AspectRatio(width: 9, height: 16))
        let decoded = try JSONDecoder().decode(CropSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec)
    }
}
