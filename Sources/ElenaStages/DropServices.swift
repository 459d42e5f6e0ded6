package import ElenaCore
import ElenaEngine
import Foundation

/// The domain's services and settings the stages use: the ledger, the image codec and its limits, the face
/// detector, the folder target's outbox, Fanvue. Built by the CLI from flags and the environment, by tests with fakes; handed
/// to the stages when the pipeline is made (`ElenaPipeline.pipeline(services:)`).
package struct DropServices: Sendable {
    /// The ledger a drop uses whatever its target: caches, items, reviews, publications, events.
    /// - Throws: only for `planningOnly`, which has none (no stage runs with it).
    package var store: any LibraryLedger {
        get throws {
            guard let library else { throw StageError("internal error: a planning-only pipeline used the ledger (a bug)") }
            return library
        }
    }
    private let library: (any LibraryLedger)?
    /// The whole ledger, what reached Fanvue included: the Fanvue stages' (nil unless the drop publishes to Fanvue;
    /// the database, or in tests a `MemoryLedger`).
    /// - Throws: `StageError` when there is none.
    package var fanvueStore: any RunStore {
        get throws {
            guard let fanvueLedger else { throw StageError("internal error: publishing to Fanvue without its ledger (a bug)") }
            return fanvueLedger
        }
    }
    private let fanvueLedger: (any RunStore)?
    /// Image decoding and encoding.
    package var codec: any ImageCodec
    /// Face detection (nil when no detector is installed: face strategies then fail with a clear message).
    package var detector: (any FaceDetector)?
    /// Image safety limits.
    package var limits: DecodeLimits
    /// Absolute outbox folder of the folder target.
    package var outbox: String
    /// The Fanvue API (nil unless the manifest publishes to fanvue and a login is saved).
    package var fanvue: (any FanvueAudiences)?
    /// Identifies the Fanvue target in cache keys (API URL and client id), so a change of target uploads anew.
    package var fanvueTarget: String
    /// Measures whose each face is (nil when the identity model is not installed: `auto` then fails clearly).
    package var identifier: (any FaceIdentifier)?
    /// The persona enrolled from the manifest's references (nil without `persona:`).
    package var persona: PersonaProfile?
    /// What `generate:` set for each image it downloaded, by the image's path in the source folder: part of its
    /// lineage (and of its ingest step's key).
    package var generated: [String: GeneratedFacts] = [:]

    /// Services.
    package init(
        store: (any LibraryLedger)?, fanvueStore: (any RunStore)? = nil, codec: any ImageCodec, detector: (any FaceDetector)? = nil, limits: DecodeLimits = .standard, outbox: String,
        fanvue: (any FanvueAudiences)? = nil, fanvueTarget: String = ""
    ) {
        self.library = store
        self.fanvueLedger = fanvueStore
        self.codec = codec
        self.detector = detector
        self.limits = limits
        self.outbox = outbox
        self.fanvue = fanvue
        self.fanvueTarget = fanvueTarget
    }

    /// For planning only (the pipeline's shape): no stage may run with these.
    package static let planningOnly = DropServices(store: nil, codec: PlanningOnlyCodec(), outbox: "")
}

/// The codec of `DropServices.planningOnly`: refuses everything.
struct PlanningOnlyCodec: ImageCodec {
    var identity: String { "none" }
    func decode(_ data: Data, header: ImageHeader, limits: DecodeLimits) throws -> any DecodedImage {
        throw ImageCodecError(.internalError, "internal error: a planning-only pipeline decoded an image (a bug)")
    }
    func inflate(_ data: Data, maxOutput: Int) throws -> Data {
        throw ImageCodecError(.internalError, "internal error: a planning-only pipeline inflated data (a bug)")
    }
}
