internal import ArgumentParser
import ElenaComfyFake
import Foundation

/// `elena-dev fake-comfyui`: the test fake as a server, to try `generate:` manifests without a GPU.
struct FakeComfyUI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-comfyui",
        abstract: "Serve the fake ComfyUI used by the tests (HTTP and websocket on 127.0.0.1), until Ctrl-C.",
        discussion: """
            It validates workflows like ComfyUI, knows the checkpoint elena-base.safetensors and the LoRA
            elena-face.safetensors, and \"generates\" synthetic PNGs (with the workflow in their prompt chunk)
            into --output. Try: elena-dev fake-comfyui --output /tmp/comfy-out, then
            elena-run examples/comfyui/drop.yaml (its server: is ComfyUI's default address, 127.0.0.1:8188).
            """)

    @Option(help: ArgumentHelp("Where SaveImage writes.", valueName: "folder"))
    var output: String = "comfyui-output"

    @Option(help: ArgumentHelp("The port (ComfyUI's own is 8188; 0 picks a free one).", valueName: "port"))
    var port: Int = 8188

    func run() async throws {
        var configuration = FakeComfy.Configuration(outputFolder: output)
        configuration.port = port
        let fake = FakeComfy(configuration: configuration)
        try await fake.start()
        FileHandle.standardOutput.write(Data("fake ComfyUI at \(fake.baseURL), writing into \(output); Ctrl-C stops\n".utf8))
        while true { try await Task.sleep(nanoseconds: 3_600_000_000_000) }
    }
}
