import ElenaCore
package import Foundation

/// Writes the metadata ComfyUI and phones put into images: PNG `prompt`/`workflow` text chunks, JPEG EXIF with
/// orientation and GPS. Used to make fixtures that prove the tool reads lineage and strips everything.
package enum ComfyMetadata {
    /// A ComfyUI API-format graph like the fixture's: checkpoint, two LoRAs, prompts, KSampler, SaveImage.
    package static func prompt(seed: Int, positive: String, width: Int, height: Int, prefix: String = "elena/drop03") -> String {
        let graph = JSONValue.object([
            "4": .object(["class_type": .string("CheckpointLoaderSimple"), "inputs": .object(["ckpt_name": .string("bigLust_v16.safetensors")])]),
            "10": .object([
                "class_type": .string("LoraLoader"),
                "inputs": .object([
                    "model": .array([.string("4"), .int(0)]), "clip": .array([.string("4"), .int(1)]),
                    "lora_name": .string("elena_body_v3.safetensors"), "strength_model": .double(0.8),
                    "strength_clip": .double(0.7),
                ]),
            ]),
            "11": .object([
                "class_type": .string("LoraLoader"),
                "inputs": .object([
                    "model": .array([.string("10"), .int(0)]), "clip": .array([.string("10"), .int(1)]),
                    "lora_name": .string("film_grain.safetensors"), "strength_model": .double(0.35),
                    "strength_clip": .double(0.35),
                ]),
            ]),
            "5": .object([
                "class_type": .string("EmptyLatentImage"),
                "inputs": .object(["width": .int(width), "height": .int(height), "batch_size": .int(1)]),
            ]),
            "6": .object([
                "class_type": .string("CLIPTextEncode"),
                "inputs": .object(["clip": .array([.string("11"), .int(1)]), "text": .string(positive)]),
            ]),
            "7": .object([
                "class_type": .string("CLIPTextEncode"),
                "inputs": .object([
                    "clip": .array([.string("11"), .int(1)]),
                    "text": .string("blurry, extra fingers, deformed hands, watermark"),
                ]),
            ]),
            "3": .object([
                "class_type": .string("KSampler"),
                "inputs": .object([
                    "model": .array([.string("11"), .int(0)]), "positive": .array([.string("6"), .int(0)]),
                    "negative": .array([.string("7"), .int(0)]), "latent_image": .array([.string("5"), .int(0)]),
                    "seed": .int(seed), "steps": .int(28), "cfg": .double(5.5), "sampler_name": .string("dpmpp_2m"),
                    "scheduler": .string("karras"), "denoise": .double(1.0),
                ]),
            ]),
            "8": .object([
                "class_type": .string("VAEDecode"),
                "inputs": .object(["samples": .array([.string("3"), .int(0)]), "vae": .array([.string("4"), .int(2)])]),
            ]),
            "9": .object([
                "class_type": .string("SaveImage"),
                "inputs": .object(["images": .array([.string("8"), .int(0)]), "filename_prefix": .string(prefix)]),
            ]),
        ])
        return graph.serialized()
    }

    /// A PNG with ComfyUI's `prompt` and `workflow` text chunks.
    package static func png(_ data: Data, prompt: String) -> Data {
        let workflow = #"{"last_node_id":11,"nodes":[],"links":[],"version":0.4}"#
        return PNGChunks.insertingText([("prompt", prompt), ("workflow", workflow)], into: data)
    }

    /// A JPEG with an EXIF block (orientation, camera, GPS position) inserted after the start marker.
    package static func jpeg(_ data: Data, orientation: Int, latitude: Double = 48.8584, longitude: Double = 2.2945) -> Data {
        var bytes = [UInt8](data)
        guard bytes.count > 2 else { return data }
        let app1 = exifSegment(orientation: orientation, latitude: latitude, longitude: longitude)
        bytes.insert(contentsOf: app1, at: 2)
        return Data(bytes)
    }

    /// An APP1 segment: "Exif\0\0" + a little-endian TIFF with IFD0 (Make, Orientation, GPS pointer) and a GPS IFD.
    static func exifSegment(orientation: Int, latitude: Double, longitude: Double) -> [UInt8] {
        var tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00]
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        let make = Array("ElenaCam\0".utf8)
        // IFD0 at 8: 3 entries → 2 + 3*12 + 4 = 42 bytes; then Make text at 50; GPS IFD after.
        let makeOffset = 8 + 42
        let gpsOffset = makeOffset + make.count + (make.count % 2)
        tiff += u16(3)
        tiff += u16(0x010F) + u16(2) + u32(make.count) + u32(makeOffset)
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0)
        tiff += u16(0x8825) + u16(4) + u32(1) + u32(gpsOffset)
        tiff += u32(0)
        tiff += make
        if make.count % 2 == 1 { tiff.append(0) }
        // GPS IFD: 4 entries → 2 + 48 + 4 = 54 bytes, then two rationals triples (24 bytes each).
        let latitudeOffset = gpsOffset + 54
        let longitudeOffset = latitudeOffset + 24
        func rational(_ value: Double) -> [UInt8] {
            let degrees = Int(value)
            let minutesFull = (value - Double(degrees)) * 60
            let minutes = Int(minutesFull)
            let seconds = Int(((minutesFull - Double(minutes)) * 60 * 100).rounded())
            return u32(degrees) + u32(1) + u32(minutes) + u32(1) + u32(seconds) + u32(100)
        }
        tiff += u16(4)
        tiff += u16(0x0001) + u16(2) + u32(2) + Array((latitude >= 0 ? "N" : "S").utf8) + [0, 0, 0]
        tiff += u16(0x0002) + u16(5) + u32(3) + u32(latitudeOffset)
        tiff += u16(0x0003) + u16(2) + u32(2) + Array((longitude >= 0 ? "E" : "W").utf8) + [0, 0, 0]
        tiff += u16(0x0004) + u16(5) + u32(3) + u32(longitudeOffset)
        tiff += u32(0)
        tiff += rational(abs(latitude)) + rational(abs(longitude))
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }
}
