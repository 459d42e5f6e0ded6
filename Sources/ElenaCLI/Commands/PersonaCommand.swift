internal import ArgumentParser
import ElenaCore
import ElenaEngine
import ElenaStages
import ElenaVision
import Foundation

/// `elena-run persona check <manifest>`.
struct PersonaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persona",
        abstract: "Check the persona's reference photos before crop.strategy auto scores faces against them.",
        discussion: """
            Example:
              elena-run persona check pipelines/drop-03.yaml
            """,
        subcommands: [PersonaCheckCommand.self])
}

struct PersonaCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Measure the persona's references, name one that disagrees, and (optionally) score a folder.",
        discussion: """
            Each reference photo in the manifest's `persona:` is measured with the identity model (SFace) and \
            compared with the others: a reference that disagrees (another person, sunglasses, a profile) is named \
            and left out, and faces cannot be scored with fewer than two agreeing references (exit 2). The result \
            is cached in the library by the photos' and the model's digests, so a drop computes it once. The \
            photos never leave the machine and never enter a crop.

            --calibrate FOLDER scores every face in the images of a folder (your real generated output) and \
            prints how they spread around keep_above and lips_above: the middle band is to be set from that.

            Examples:
              elena-run persona check pipelines/drop-03.yaml
              elena-run persona check drop-03.yaml --calibrate ~/ComfyUI/output/elena
            """)

    @Argument(help: ArgumentHelp("The drop manifest with a persona: section.", valueName: "manifest"))
    var manifest: String

    @Option(name: .long, help: ArgumentHelp("Score the faces of the images in this folder.", valueName: "folder"))
    var calibrate: String?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var options: DropOptions

    func run() async throws {
        let loaded = try Wiring.loadManifest(manifest)
        guard let spec = loaded.manifest.persona else {
            throw CLIError.usage("\(manifest) has no persona: section (persona: {references: [her-1.jpg, her-2.jpg]})")
        }
        guard let folder = Wiring.modelsFolder else {
            throw CLIError.cannotStart("the face models are not installed; run 'make models'")
        }
        let detector: MediaPipeFaceDetector
        let identifier: SFaceIdentifier
        do {
            MediaPipeFaceDetector.setOpenCVThreads(1)
            detector = try MediaPipeFaceDetector(modelsFolder: folder)
            identifier = try SFaceIdentifier(modelsFolder: folder)
        } catch {
            throw CLIError.cannotStart("\(error)")
        }
        let layout = options.layout(manifest: loaded)
        let enrolment = PersonaEnrolment(
            codec: OpenCVCodec(), detector: detector, identifier: identifier, cacheFolder: layout.absolute(".elena-cache"))
        let profile: PersonaProfile
        do {
            profile = try enrolment.enrol(spec, relativeTo: loaded.folder, home: Wiring.home)
        } catch let error as PersonaError {
            // Show each reference's measure before refusing.
            if let measured = try? enrolment.measure(spec, relativeTo: loaded.folder, home: Wiring.home) {
                print(Self.describe(measured.references))
            }
            throw CLIError.usage(error.description)
        }
        var scores: [(file: String, score: Double?)] = []
        if let calibrate {
            let path = PathText.resolve(calibrate, relativeTo: Wiring.workingDirectory, home: Wiring.home)
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
            for name in names where [".png", ".jpg", ".jpeg", ".webp"].contains(where: name.lowercased().hasSuffix) {
                guard let data = FileManager.default.contents(atPath: path + "/" + name),
                    let image = try? OpenCVCodec().decode(data, header: try ImageHeader.read(data), limits: .standard),
                    let faces = try? detector.detect(in: image)
                else {
                    scores.append((name, nil))
                    continue
                }
                guard let main = faces.max(by: { $0.area < $1.area }) else {
                    scores.append((name, nil))
                    continue
                }
                scores.append((name, profile.score(try identifier.embed(main, in: image))))
            }
        }
        if json {
            print(
                JSONValue.object([
                    "model": .string(profile.model), "centroid": .string(profile.digest),
                    "keep_above": .double(profile.keepAbove), "lips_above": .double(profile.lipsAbove),
                    "references": .array(
                        profile.references.map { reference in
                            .object([
                                "path": .string(reference.path), "agreement": reference.agreement.map(JSONValue.double) ?? .null,
                                "problem": reference.problem.map(JSONValue.string) ?? .null,
                            ])
                        }),
                    "calibration": .array(
                        scores.map { .object(["file": .string($0.file), "score": $0.score.map { .double(($0 * 1000).rounded() / 1000) } ?? .null]) }),
                ]).pretty(), terminator: "")
            return
        }
        print(Self.describe(profile.references))
        print(
            "persona: \(profile.agreeing.count) of \(profile.references.count) references agree; faces are kept from "
                + "\(NumberText.format(profile.keepAbove)), keep only the lips from \(NumberText.format(profile.lipsAbove)) "
                + "(model \(profile.model), centroid \(profile.digest))")
        if calibrate != nil {
            let measured = scores.compactMap(\.score)
            let kept = measured.filter { $0 >= profile.keepAbove }.count
            let lips = measured.filter { $0 >= profile.lipsAbove && $0 < profile.keepAbove }.count
            let close = measured.filter {
                abs($0 - profile.keepAbove) <= IdentityRecord.uncertainty || abs($0 - profile.lipsAbove) <= IdentityRecord.uncertainty
            }.count
            for entry in scores {
                print("  \(entry.score.map { String(format: "%.3f", $0) } ?? "  -  ")  \(entry.file)\(entry.score == nil ? " (no face)" : "")")
            }
            print(
                "calibration: \(measured.count) faces: \(kept) kept, \(lips) lips only, \(measured.count - kept - lips) cut; "
                    + "\(close) within 0.05 of a threshold")
        }
    }

    static func describe(_ references: [PersonaProfile.Reference]) -> String {
        references.map { reference in
            let agreement = reference.agreement.map { String(format: "%.3f", $0) } ?? "  -  "
            return "  \(agreement)  \(reference.path)" + (reference.problem.map { "  ← \($0)" } ?? "")
        }.joined(separator: "\n")
    }
}
