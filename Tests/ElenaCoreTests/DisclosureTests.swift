import ElenaCore
import Testing

@Suite struct DisclosureTests {
    @Test(arguments: [
        (String?.none, "#AIgenerated"),
        ("", "#AIgenerated"),
        ("   \n", "#AIgenerated"),
        ("Golden hour", "Golden hour #AIgenerated"),
        ("  Golden hour \n", "Golden hour #AIgenerated"),  // trimmed
    ])
    func addsTheDisclosureWhenMissing(caption: String?, expected: String) {
        #expect(Disclosure.apply(caption, disclosure: PublishSpec.defaultDisclosure) == expected)
    }

    @Test(arguments: [
        "New set #AI", "new set #ai #lingerie", "AI-generated image", "ai generated", "Fully AIgenerated",
        "Made with AI ✨", "#AIart", "some ai art", "already #AIGENERATED",
    ])
    func leavesCaptionsThatAlreadyDiscloseAlone(caption: String) {
        #expect(Disclosure.apply(caption, disclosure: "#AIgenerated") == caption)
    }

    @Test func theConfiguredDisclosureCountsAsOneInAnyCase() {
        #expect(Disclosure.apply("Sunday #MadeWithElenaAI", disclosure: "#madewithelenaai") == "Sunday #MadeWithElenaAI")
        #expect(Disclosure.apply("Sunday", disclosure: "#madewithelenaai") == "Sunday #madewithelenaai")
    }

    @Test(arguments: ["Thai art inspired set", "#aim high this week", "Dubai art tour"])
    func wordsThatMerelyContainAMarkerDoNotDisclose(caption: String) {
        #expect(Disclosure.apply(caption, disclosure: "#AIgenerated") == caption + " #AIgenerated")
    }
}
