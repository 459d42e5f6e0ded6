@testable import ElenaCLI
import ElenaEngine
import Testing

/// The words of the progress display.
@Suite struct ProgressTextTests {
    /// The terminal line counts images, with the rate and the time left, and is cut to the terminal's width.
    @Test func theBarCountsImagesWithRateAndTimeLeft() {
        let progress = RunProgress(images: 50, imagesTotal: 200, steps: 260, stepsTotal: 1001)
        let line = ProgressText.bar(progress, elapsed: 10, stage: "crop", subject: "ComfyUI_00051_.png", width: 120)
        #expect(line == "[#####...............] 50/200 images  5.0/s, about 0:30 left  crop ComfyUI_00051_.png")
        let narrow = ProgressText.bar(progress, elapsed: 10, stage: "crop", subject: "ComfyUI_00051_.png", width: 40)
        #expect(narrow.count <= 39 && narrow.hasSuffix("…"), "\(narrow)")
        let early = ProgressText.bar(
            RunProgress(images: 0, imagesTotal: 1, steps: 1, stepsTotal: 5), elapsed: 0.1, stage: "ingest", subject: "a.png",
            width: 80)
        #expect(early == "[....................] 0/1 image  ingest a.png", "no rate before an image is done")
    }

    /// On a pipe: images, the share done, and the pace.
    @Test func thePlainLine() {
        let progress = RunProgress(images: 3000, imagesTotal: 10000, steps: 1, stepsTotal: 2)
        #expect(ProgressText.plainLine(progress, elapsed: 100) == "progress: 3000/10000 images (30%), 30/s, about 3:53 left")
        #expect(ProgressText.duration(3723) == "1:02:03")
        #expect(ProgressText.plainLine(RunProgress(images: 20, imagesTotal: 20, steps: 2, stepsTotal: 2), elapsed: 4)
            == "progress: 20/20 images (100%), 5.0/s")
    }
}

/// A pool's progress on a terminal: the count, then a line per server.
@Suite struct PoolProgressTests {
    @Test func oneLinePerServer() {
        let progress = GenerationProgress(
            done: 5, total: 12, current: "prompt 3, seed 1 on http://gpu2:8188",
            servers: [
                .init(server: "http://gpu1:8188", doing: "prompt 4, seed 1 step 7/20"),
                .init(server: "http://gpu2:8188", doing: "prompt 6, seed 1"),
                .init(server: "http://gpu10:8188", doing: "gone (its prompts went to the others)"),
            ])
        #expect(
            ProgressText.poolLines(progress) == [
                "[########............] 5/12 prompts generated on 3 servers",
                "  http://gpu1:8188   prompt 4, seed 1 step 7/20",
                "  http://gpu2:8188   prompt 6, seed 1",
                "  http://gpu10:8188  gone (its prompts went to the others)",
            ])
    }
}
