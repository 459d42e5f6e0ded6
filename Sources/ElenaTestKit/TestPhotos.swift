package import Foundation

/// The photographs and face models some tests need. `make test` fetches and installs them and sets ELENA_TEST_FACES
/// (the labelled photographs), ELENA_TEST_IDENTITY (the persona's photographs), ELENA_MODELS_DIR and
/// ELENA_REQUIRE_FACES=1. Such a test runs when what it needs is there, or when ELENA_REQUIRE_FACES=1 says it must
/// be (then its absence fails the test, never skips it).
package enum TestPhotos {
    /// What is missing, and how to get it.
    package struct Missing: Error, CustomStringConvertible {
        package var description: String
    }

    private static let environment = ProcessInfo.processInfo.environment
    /// Whether the photographs and models must be there (`make test`).
    package static let required = environment["ELENA_REQUIRE_FACES"] == "1"

    /// Whether a test of the labelled photographs and the models runs.
    package static var facesRun: Bool {
        required || (environment["ELENA_TEST_FACES"] != nil && environment["ELENA_MODELS_DIR"] != nil)
    }
    /// Whether a test of the persona's photographs and the models runs.
    package static var identityRun: Bool {
        required || (environment["ELENA_TEST_IDENTITY"] != nil && environment["ELENA_MODELS_DIR"] != nil)
    }

    /// Whether a test of the public-domain photographs (`ELENA_TEST_FACES/sources`) runs.
    package static var photographsRun: Bool { required || environment["ELENA_TEST_FACES"] != nil }

    /// One of those photographs (scikit-image's samples), by name.
    package static func photograph(_ name: String) throws -> Data {
        let path = try faces() + "/sources/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Missing(description: "\(path) is not there: run scripts/fetch-test-faces")
        }
        return data
    }

    /// The labelled photographs' folder.
    package static func faces() throws -> String { try folder("ELENA_TEST_FACES", "run scripts/fetch-test-faces") }
    /// The persona's photographs' folder.
    package static func identity() throws -> String { try folder("ELENA_TEST_IDENTITY", "run scripts/fetch-identity-faces") }
    /// The face models' folder.
    package static func models() throws -> String { try folder("ELENA_MODELS_DIR", "run make models") }

    private static func folder(_ variable: String, _ fix: String) throws -> String {
        guard let value = environment[variable], !value.isEmpty else {
            throw Missing(description: "\(variable) is not set: \(fix)")
        }
        return value
    }
}
