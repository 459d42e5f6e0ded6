package import ElenaCore
import ElenaEngine
import Foundation

/// The persona as the crop measures faces against her: the centroid of the references that agree, the thresholds,
/// and what each reference contributed.
package struct PersonaProfile: Sendable, Hashable, Codable {
    /// One reference photo, as enrolment found it.
    package struct Reference: Sendable, Hashable, Codable {
        package var path: String
        /// The photo's SHA-256.
        package var digest: String
        /// Its mean cosine to the other references (nil when no face was found).
        package var agreement: Double?
        /// Why it was left out (no face, it disagrees with the others), nil when it counts.
        package var problem: String?
        /// The embedding of its main face.
        package var embedding: [Float]?

        /// Creates a reference not measured yet.
        package init(path: String, digest: String) {
            self.path = path
            self.digest = digest
        }
    }

    package var references: [Reference]
    /// The normalised mean of the agreeing references' embeddings.
    package var centroid: [Float]
    /// The centroid's digest (with the model): part of the crop's cache key.
    package var digest: String
    package var model: String
    package var keepAbove: Double
    package var lipsAbove: Double

    /// Two references agree when their cosine is at least this (photos of one person measured 0.67 to 0.78; other
    /// people at most 0.30).
    package static let agreement = 0.55

    /// The score of a face: the cosine of its embedding and the centroid.
    package func score(_ embedding: [Float]) -> Double {
        Double(zip(embedding, centroid).reduce(Float(0)) { $0 + $1.0 * $1.1 })
    }

    /// The references that count.
    package var agreeing: [Reference] { references.filter { $0.problem == nil } }
}

/// Why the persona cannot be used.
package struct PersonaError: Error, Sendable, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Enrols the persona: each reference photo's main face is measured, each is compared with the others, the ones that
/// disagree are named and left out, and the centroid of the rest is what faces are scored against. At least two
/// references must agree. The result is cached in the library by the references' digests and the model's identity,
/// so it is computed once; the photos never leave the machine and never enter a crop.
package struct PersonaEnrolment: Sendable {
    package let codec: any ImageCodec
    package let detector: any FaceDetector
    package let identifier: any FaceIdentifier
    /// Where enrolments are cached (a folder in the library).
    package let cacheFolder: String
    /// Whether a new enrolment is written to the cache (a dry run reads it, never writes).
    package let writesCache: Bool

    /// Creates an enrolment.
    package init(
        codec: any ImageCodec, detector: any FaceDetector, identifier: any FaceIdentifier, cacheFolder: String,
        writesCache: Bool = true
    ) {
        self.codec = codec
        self.detector = detector
        self.identifier = identifier
        self.cacheFolder = cacheFolder
        self.writesCache = writesCache
    }

    /// The persona of `spec`, its references resolved against `folder` (the manifest's).
    /// - Throws: `PersonaError` naming a missing or unreadable reference, or fewer than two agreeing references.
    package func enrol(_ spec: PersonaSpec, relativeTo folder: String, home: String) throws -> PersonaProfile {
        let files = try read(spec, relativeTo: folder, home: home)
        let key = Digest.of(([identifier.identity] + files.map(\.digest.hex).sorted()).joined(separator: "\n")).hex
        let cached = cacheFolder + "/persona-\(key.prefix(24)).json"
        var profile: PersonaProfile
        if let data = FileManager.default.contents(atPath: cached),
            let saved = try? JSONDecoder().decode(PersonaProfile.self, from: data), saved.references.count == files.count
        {
            profile = saved
        } else {
            profile = try measure(files)
            if writesCache, let data = try? JSONEncoder().encode(profile) {
                try? FileSystem.makeDirectory(cacheFolder)
                try? FileSystem.writeAtomically(data, to: cached)
            }
        }
        profile.keepAbove = spec.keepAbove
        profile.lipsAbove = spec.lipsAbove
        let agreeing = profile.agreeing.count
        guard agreeing >= 2 else {
            let problems = profile.references.compactMap { reference in reference.problem.map { "\(reference.path): \($0)" } }
            throw PersonaError(
                "only \(agreeing) of \(files.count) persona references agree; at least 2 are needed to score faces"
                    + (problems.isEmpty ? "" : " (" + problems.joined(separator: "; ") + ")")
                    + ". Run `elena-run persona check` for each reference's agreement")
        }
        return profile
    }

    /// The reference photos' bytes.
    func read(_ spec: PersonaSpec, relativeTo folder: String, home: String) throws -> [(path: String, data: Data, digest: Digest)] {
        try spec.references.map { reference in
            let path = PathText.resolve(reference, relativeTo: folder, home: home)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PersonaError("persona reference \(reference) cannot be read (\(path)): check the path in persona.references")
            }
            return (path, data, Digest.of(data))
        }
    }

    /// Each reference measured, without the cache or the two-references rule (what `persona check` shows).
    package func measure(_ spec: PersonaSpec, relativeTo folder: String, home: String) throws -> PersonaProfile {
        try measure(try read(spec, relativeTo: folder, home: home))
    }

    /// Measures the references and builds the profile (no cache).
    func measure(_ files: [(path: String, data: Data, digest: Digest)]) throws -> PersonaProfile {
        var references: [PersonaProfile.Reference] = []
        for file in files {
            var reference = PersonaProfile.Reference(path: file.path, digest: file.digest.hex)
            do {
                let image = try codec.decode(file.data, header: try ImageHeader.read(file.data), limits: .standard)
                let faces = try detector.detect(in: image)
                if let main = faces.max(by: { $0.area < $1.area }) {
                    reference.embedding = try identifier.embed(main, in: image)
                } else {
                    reference.problem = "no face found"
                }
            } catch {
                reference.problem = "cannot be read as an image (\(error))"
            }
            references.append(reference)
        }
        // Each reference against each other one: it counts when it agrees (cosine at least `agreement`) with at least
        // half of the others; one that does not (another person, sunglasses, a profile) is named and left out. Its
        // agreement shown is its mean cosine to the others.
        let measured = references.indices.filter { references[$0].embedding != nil }
        for index in measured {
            guard let own = references[index].embedding else { continue }
            let cosines = measured.filter { $0 != index }.compactMap { references[$0].embedding }.map { other in
                Double(zip(own, other).reduce(Float(0)) { $0 + $1.0 * $1.1 })
            }
            guard !cosines.isEmpty else { continue }
            let mean = cosines.reduce(0, +) / Double(cosines.count)
            let agreeing = cosines.filter { $0 >= PersonaProfile.agreement }.count
            references[index].agreement = (mean * 1000).rounded() / 1000
            if agreeing == 0 || agreeing * 2 < cosines.count {
                references[index].problem =
                    "disagrees with the others (agrees with \(agreeing) of \(cosines.count); mean "
                    + "\(NumberText.format((mean * 1000).rounded() / 1000))): another person, sunglasses or a profile?"
            }
        }
        let centroid = Self.centroid(references.filter { $0.problem == nil }.compactMap(\.embedding))
        let digest = Digest.of(identifier.identity + "\n" + centroid.map { String($0) }.joined(separator: ",")).hex
        return PersonaProfile(
            references: references, centroid: centroid, digest: String(digest.prefix(16)), model: identifier.identity,
            keepAbove: PersonaSpec.defaultKeepAbove, lipsAbove: PersonaSpec.defaultLipsAbove)
    }

    /// The normalised mean of normalised embeddings.
    static func centroid(_ embeddings: [[Float]]) -> [Float] {
        guard let first = embeddings.first else { return [] }
        var sum = [Float](repeating: 0, count: first.count)
        for embedding in embeddings { for index in sum.indices where index < embedding.count { sum[index] += embedding[index] } }
        let norm = sum.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? sum.map { $0 / norm } : sum
    }
}
