import ElenaCore
import Foundation
import Testing

@Suite struct ComfyLineageTests {
    static func fixture() throws -> String {
        String(decoding: try TestFiles.fixture("comfyui-txt2img-lora.api.json"), as: UTF8.self)
    }

    @Test func readsTheTxt2ImgLoRAFixture() throws {
        let lineage = try #require(ComfyLineage.parse(prompt: try Self.fixture()))
        #expect(lineage.seed == 884_213_377)
        #expect(lineage.steps == 28)
        #expect(lineage.cfg == 5.5)
        #expect(lineage.sampler == "dpmpp_2m")
        #expect(lineage.scheduler == "karras")
        #expect(lineage.denoise == 1.0)
        #expect(lineage.checkpoint == "bigLust_v16", "named like the LoRAs, without the extension")
        #expect(lineage.loras.map(\.name) == ["elena_body_v3", "film_grain"])
        #expect(lineage.loras.map(\.strengthModel) == [0.8, 0.35])
        #expect(lineage.loras.map(\.strengthClip) == [0.7, 0.35])
        #expect(lineage.width == 832)
        #expect(lineage.height == 1216)
        #expect(lineage.batchSize == 1)
        #expect(lineage.positive == "photo of a woman in a red summer dress, mirror selfie, soft window light")
        #expect(lineage.negative == "blurry, extra fingers, deformed hands, watermark")
        #expect(lineage.filenamePrefix == "elena/drop03")
        #expect(lineage.hasWorkflow == false)
        #expect(!lineage.isEmpty)
    }

    @Test func theFixtureReadsTheSameAsTheOneLineTextComfyUIWrites() throws {
        // ComfyUI stores the graph on one line in the PNG's `prompt` chunk; reading it back from a PNG gives the same.
        let compact = try JSONValue.parse(try Self.fixture()).serialized()
        let png = PNGChunks.insertingText([("prompt", compact), ("workflow", "{}")], into: Data(Bytes.png(width: 8, height: 8)))
        let texts = PNGChunks.texts(png)
        let prompt = try #require(texts.first { $0.keyword == "prompt" }?.text)
        let fromPNG = try #require(ComfyLineage.parse(prompt: prompt, hasWorkflow: texts.contains { $0.keyword == "workflow" }))
        var fromFile = try #require(ComfyLineage.parse(prompt: try Self.fixture()))
        #expect(fromPNG.hasWorkflow)
        fromFile.hasWorkflow = true
        #expect(fromPNG == fromFile)
    }

    @Test func lineageSurvivesAJSONRoundTrip() throws {
        let lineage = try #require(ComfyLineage.parse(prompt: try Self.fixture()))
        let data = try JSONEncoder().encode(lineage)
        #expect(try JSONDecoder().decode(ComfyLineage.self, from: data) == lineage)
    }

    /// A Flux-style graph: SamplerCustomAdvanced with RandomNoise, a guider, a sampler select and a scheduler, and
    /// the prompt text coming through a link from a primitive node.
    static let customAdvanced = """
        {
          "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
          "2": {"class_type": "RandomNoise", "inputs": {"noise_seed": 123456789012}},
          "3": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
          "4": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 20, "denoise": 1}},
          "5": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}},
          "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["5", 0], "text": ["7", 0]}},
          "7": {"class_type": "PrimitiveString", "inputs": {"value": "a woman reading by the window"}},
          "8": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["6", 0]}},
          "9": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 896, "height": 1152, "batch_size": 2}},
          "10": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["2", 0], "guider": ["8", 0], "sampler": ["3", 0], "sigmas": ["4", 0], "latent_image": ["9", 0]}},
          "11": {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["13", 0]}},
          "12": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["1", 0], "lora_name": "elena_face.safetensors", "strength_model": 0.6}},
          "13": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
          "14": {"class_type": "SaveImage", "inputs": {"images": ["11", 0], "filename_prefix": "flux/test"}}
        }
        """

    @Test func readsSamplerCustomAdvancedWithRandomNoise() throws {
        let lineage = try #require(ComfyLineage.parse(prompt: Self.customAdvanced, hasWorkflow: true))
        #expect(lineage.seed == 123_456_789_012)
        #expect(lineage.sampler == "euler")
        #expect(lineage.scheduler == "simple")
        #expect(lineage.steps == 20)
        #expect(lineage.cfg == nil)
        #expect(lineage.positive == "a woman reading by the window")
        #expect(lineage.negative == nil)
        #expect(lineage.checkpoint == "flux1-dev")
        #expect(lineage.loras.map(\.name) == ["elena_face"])
        #expect(lineage.loras.first?.strengthModel == 0.6)
        #expect(lineage.loras.first?.strengthClip == nil)
        #expect(lineage.width == 896)
        #expect(lineage.height == 1152)
        #expect(lineage.batchSize == 2)
        #expect(lineage.filenamePrefix == "flux/test")
        #expect(lineage.hasWorkflow)
    }

    @Test func followsLinksToSeedAndTextNodes() throws {
        let graph = """
            {
              "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "model.ckpt"}},
              "20": {"class_type": "Seed (rgthree)", "inputs": {"seed": 42}},
              "21": {"class_type": "PrimitiveNode", "inputs": {"string": "negative words"}},
              "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": "positive words"}},
              "7": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": ["21", 0]}},
              "3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "seed": ["20", 0], "steps": 30, "cfg": 7, "sampler_name": "euler_a", "scheduler": "normal", "denoise": 0.55}}
            }
            """
        let lineage = try #require(ComfyLineage.parse(prompt: graph))
        #expect(lineage.seed == 42)
        #expect(lineage.positive == "positive words")
        #expect(lineage.negative == "negative words")
        #expect(lineage.cfg == 7)
        #expect(lineage.denoise == 0.55)
        #expect(lineage.checkpoint == "model")
        #expect(lineage.loras.isEmpty)
        #expect(lineage.filenamePrefix == nil, "no SaveImage node")
        #expect(lineage.width == nil)
    }

    @Test func numericNodeIdsInLinksAreFollowed() throws {
        let graph = #"""
            {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
             "2": {"class_type": "KSampler", "inputs": {"model": [1, 0], "seed": 5}}}
            """#
        let lineage = try #require(ComfyLineage.parse(prompt: graph))
        #expect(lineage.checkpoint == "m")
        #expect(lineage.seed == 5)
    }

    @Test func aGraphWithoutASamplerKeepsWhatItCanRead() throws {
        let graph = #"{"9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}}}"#
        let lineage = try #require(ComfyLineage.parse(prompt: graph))
        #expect(lineage.filenamePrefix == "x")
        #expect(lineage.seed == nil)
        #expect(lineage.isEmpty)
    }

    @Test func aCycleInTheModelChainEnds() throws {
        let graph = #"""
            {"1": {"class_type": "LoraLoader", "inputs": {"model": ["2", 0], "lora_name": "a.safetensors"}},
             "2": {"class_type": "LoraLoader", "inputs": {"model": ["1", 0], "lora_name": "b.safetensors"}},
             "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 1}}}
            """#
        let lineage = try #require(ComfyLineage.parse(prompt: graph))
        #expect(lineage.checkpoint == nil)
        #expect(lineage.loras.count <= 64, "the walk is bounded")
    }

    @Test(arguments: [
        "", "not json", "[1, 2, 3]", #""prompt""#, "{}", #"{"a": 1, "b": {"inputs": {}}}"#,
        #"{"nodes": [], "links": [], "version": 0.4}"#,  // the editor's workflow format, not the API format
    ])
    func nonGraphJSONIsNil(text: String) {
        #expect(ComfyLineage.parse(prompt: text) == nil)
    }
}
