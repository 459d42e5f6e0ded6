package import Foundation

/// The IPTC "digital source type" marking for AI-generated media, written as XMP into a JPEG (APP1) or a PNG (iTXt).
/// It is the only metadata a crop may carry, and only when the manifest asks for it (`crop.mark_ai: true`).
package enum AIMarking {
    /// IPTC NewsCodes term for media created by a trained model.
    package static let digitalSourceType = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

    /// The XMP packet.
    package static let xmp = """
        <?xpacket begin="\u{FEFF}" id="W5M0MpCehiHzreSzNTczkc9d"?>
        <x:xmpmeta xmlns:x="adobe:ns:meta/">
         <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
          <rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">
           <Iptc4xmpExt:DigitalSourceType>\(digitalSourceType)</Iptc4xmpExt:DigitalSourceType>
          </rdf:Description>
         </rdf:RDF>
        </x:xmpmeta>
        <?xpacket end="r"?>
        """

    /// A copy of an encoded JPEG or PNG with the marking added (other formats are returned unchanged).
    package static func marked(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        if bytes.starts(with: PNGChunks.signature) {
            guard let header = PNGChunks.scan(bytes, limit: 1).first, header.type == "IHDR" else { return data }
            let body = Array("XML:com.adobe.xmp".utf8) + [0, 0, 0, 0, 0] + Array(xmp.utf8)
            bytes.insert(contentsOf: PNGChunks.chunk("iTXt", body), at: header.range.upperBound + 4)
            return Data(bytes)
        }
        guard bytes.starts(with: [0xFF, 0xD8]) else { return data }
        var insertAt = 2
        // After a leading JFIF APP0 segment, as XMP readers expect.
        if bytes.count > 6, bytes[2] == 0xFF, bytes[3] == 0xE0 {
            insertAt = 4 + (Int(bytes[4]) << 8 | Int(bytes[5]))
        }
        let payload = Array("http://ns.adobe.com/xap/1.0/".utf8) + [0] + Array(xmp.utf8)
        let length = payload.count + 2
        bytes.insert(contentsOf: [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload, at: insertAt)
        return Data(bytes)
    }
}
