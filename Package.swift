// swift-tools-version:6.0
import PackageDescription

/// `ELENA_SANITIZE=address` (set by scripts/check-asan): this package's own Swift, C and C++ code is built with
/// AddressSanitizer, in the usual build folder beside its dependencies as they are. Built in a folder of its own with
/// `--sanitize=address`, every dependency was built again first, and the check took 12-13 minutes instead of 3-4.
/// Only the two products the check builds are linked with the sanitizer's runtime: test targets built this way
/// would not link.
let sanitized = Context.environment["ELENA_SANITIZE"] == "address"
let sanitizeSwift: [SwiftSetting] = sanitized ? [.unsafeFlags(["-sanitize=address"])] : []
let sanitizeC: [CSetting] = sanitized ? [.unsafeFlags(["-fsanitize=address", "-fno-omit-frame-pointer"])] : []
let sanitizeCXX: [CXXSetting] = sanitized ? [.unsafeFlags(["-fsanitize=address", "-fno-omit-frame-pointer"])] : []
/// Products are linked by swiftc, which brings in the sanitizer's runtime with this flag.
let sanitizeLink: [LinkerSetting] = sanitized ? [.unsafeFlags(["-sanitize=address"])] : []

/// Every target opts into the strict settings the style guide asks for.
let strict: [SwiftSetting] =
    [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ] + sanitizeSwift

let package = Package(
    name: "elena-run",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "elena-run", targets: ["elena-run"]),
        // The CVision shim with OpenCV behind it, as the shared library the tool loads when it first needs an image
        // (CVisionLoader): a run that touches no image never maps OpenCV's 150 libraries. Installed beside the binary.
        .library(name: "ElenaOpenCV", type: .dynamic, targets: ["CVision"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", exact: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", exact: "2.8.1"),
    ],
    targets: [
        // PURE: manifest model and validation, planning, cache keys, crop geometry, ports. No I/O.
        .target(
            name: "ElenaCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        // C shim over OpenCV (Debian's libopencv-dev) and zlib: decode, orient, crop, encode without metadata; the
        // face networks run on XNNPACK (Debian's libxnnpack-dev), with OpenCV's dnn module as the reference engine.
        .target(
            name: "CVision",
            exclude: ["README.md"],
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])] + sanitizeCXX,
            linkerSettings: [
                .linkedLibrary("opencv_core"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_imgcodecs"),
                .linkedLibrary("opencv_dnn"), .linkedLibrary("opencv_objdetect"), .linkedLibrary("opencv_img_hash"),
                .linkedLibrary("XNNPACK"),
                .linkedLibrary("z"), .linkedLibrary("stdc++"),
            ] + sanitizeLink),
        // The CVision interface as the tool links it: each function loads libElenaOpenCV.so (the product above) on
        // first need. Only OpenCV's version header is read here; zlib answers the PNG chunk checksums, and XNNPACK
        // (small, without OpenCV) whether the face detector's engine runs on this CPU.
        .target(
            name: "CVisionLoader",
            cSettings: [.unsafeFlags(["-I/usr/include/opencv4"])] + sanitizeC,
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("z"), .linkedLibrary("XNNPACK")]),
        // The ImageCodec port implemented over CVision; the only Swift code that touches unsafe pointers.
        .target(name: "ElenaVision", dependencies: ["ElenaCore", "CVisionLoader"], swiftSettings: strict),
        // The RunStore port on SQLite (GRDB) and PostgreSQL (PostgresNIO), with the embedded migrations.
        .target(
            name: "ElenaStore",
            dependencies: [
                "ElenaCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The generic runner: DAG scheduling, run cache, stat cache, file system edge.
        .target(
            name: "ElenaEngine", dependencies: ["ElenaCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // The stages (ingest, detect, crop, review gate, publish) over the ports, and the drop session.
        .target(name: "ElenaStages", dependencies: ["ElenaCore", "ElenaEngine"], swiftSettings: strict),
        // The review page: a small HTTP server on 127.0.0.1 (Hummingbird) with its HTML, CSS and JavaScript.
        .target(
            name: "ElenaReview",
            dependencies: [
                "ElenaCore", "ElenaEngine", "ElenaStages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            exclude: ["API.md", "Assets"],
            swiftSettings: strict),
        // The Fanvue API client: OAuth 2 with PKCE, token file, multipart uploads, vault, posts, messages;
        // rate limits and retries. Over AsyncHTTPClient.
        .target(
            name: "ElenaFanvue",
            dependencies: [
                "ElenaCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // How the fake servers start: a Hummingbird application on 127.0.0.1, returned once it listens. Never shipped.
        .target(
            name: "ElenaFakeServer",
            dependencies: [
                "ElenaCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // A faithful fake of the Fanvue API and its storage for tests: real HTTP on 127.0.0.1, fault injection, a
        // record of every call. Never shipped.
        .target(
            name: "ElenaFanvueFake",
            dependencies: [
                "ElenaCore", "ElenaFakeServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        // The ComfyUI client: queue a graph, follow it over the websocket (or through /history when the socket
        // fails), download what it saved, cancel.
        .target(
            name: "ElenaComfy",
            dependencies: [
                "ElenaCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // A fake ComfyUI for tests: real HTTP and websocket on 127.0.0.1, graph validation, the documented event
        // sequence, SaveImage-style PNGs, injected faults. Never shipped.
        .target(
            name: "ElenaComfyFake",
            dependencies: [
                "ElenaCore", "ElenaTestKit", "ElenaTestSupport", "ElenaFakeServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        // Commands and wiring: the only module that knows every other.
        .target(
            name: "ElenaCLI",
            dependencies: [
                "ElenaCore", "ElenaEngine", "ElenaStages", "ElenaStore", "ElenaVision", "ElenaReview", "ElenaFanvue",
                "ElenaComfy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "elena-run", dependencies: ["ElenaCLI"], swiftSettings: strict, linkerSettings: sanitizeLink),

        // The pure test kit: seeded randomness, temporary folders, structured clean-up, child processes and the
        // built binary, hand-made image bytes and metadata readers. No OpenCV, no database (never shipped).
        .target(name: "ElenaTestKit", dependencies: ["ElenaCore"], swiftSettings: strict),
        // Fixtures over OpenCV and the databases: synthetic images, source folders, test databases, a scratch
        // PostgreSQL server (never shipped).
        .target(
            name: "ElenaTestSupport", dependencies: ["ElenaCore", "ElenaTestKit", "ElenaVision", "ElenaStore"],
            swiftSettings: strict),
        // A drop published to the fake Fanvue, in-process or through the binary: the harness of the Fanvue tests
        // (never shipped).
        .target(
            name: "ElenaFanvueHarness",
            dependencies: [
                "ElenaCore", "ElenaEngine", "ElenaFanvue", "ElenaFanvueFake", "ElenaStages", "ElenaStore", "ElenaTestKit",
                "ElenaTestSupport", "ElenaVision",
            ],
            swiftSettings: strict),
        // Developer tool: regenerate examples, make benchmark data.
        .executableTarget(
            name: "elena-dev",
            dependencies: [
                "ElenaCore", "ElenaStages", "ElenaVision", "ElenaTestKit", "ElenaTestSupport", "ElenaFanvue", "ElenaFanvueFake", "ElenaComfyFake",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // Pure tests: decoding, validation, planning, cache keys, geometry, headers, lineage. No I/O.
        .testTarget(
            name: "ElenaCoreTests", dependencies: ["ElenaCore", "ElenaTestKit"], exclude: ["Fixtures"], swiftSettings: strict),
        // The image codec on real encoded images.
        .testTarget(
            name: "ElenaVisionTests", dependencies: ["ElenaCore", "ElenaVision", "ElenaTestKit", "ElenaTestSupport"],
            swiftSettings: strict),
        // The store on real SQLite files and a real PostgreSQL server (ELENA_POSTGRES_URL, set by `make test`).
        .testTarget(
            name: "ElenaStoreTests", dependencies: ["ElenaCore", "ElenaEngine", "ElenaStore", "ElenaTestKit", "ElenaTestSupport"],
            swiftSettings: strict),
        // The review server's routes, access rules and decisions (HummingbirdTesting, real files and SQLite).
        .testTarget(
            name: "ElenaReviewTests",
            dependencies: [
                "ElenaCore", "ElenaEngine", "ElenaStages", "ElenaStore", "ElenaVision", "ElenaReview", "ElenaTestKit", "ElenaTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // The Fanvue client and the Fanvue stages in-process against the fake server over real HTTP.
        .testTarget(
            name: "ElenaFanvueTests",
            dependencies: [
                "ElenaCore", "ElenaFanvue", "ElenaFanvueFake", "ElenaFanvueHarness", "ElenaFakeServer", "ElenaTestKit", "ElenaTestSupport", "ElenaEngine", "ElenaStages",
                "ElenaStore", "ElenaVision",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // The ComfyUI client against the fake ComfyUI over real HTTP.
        .testTarget(
            name: "ElenaComfyTests",
            dependencies: [
                "ElenaCore", "ElenaComfy", "ElenaComfyFake", "ElenaTestKit", "ElenaTestSupport",
                .product(name: "WSClient", package: "swift-websocket"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The pipeline's declaration as the planner lays it out. Pure: no files, no database.
        .testTarget(
            name: "ElenaStagesTests", dependencies: ["ElenaCore", "ElenaEngine", "ElenaStages", "ElenaTestKit"], swiftSettings: strict),
        // The runner and stages in-process, on real files and a real SQLite database.
        .testTarget(
            name: "ElenaEngineTests",
            dependencies: [
                "ElenaCore", "ElenaEngine", "ElenaStages", "ElenaStore", "ElenaVision", "ElenaTestKit", "ElenaTestSupport", "elena-dev",
            ],
            swiftSettings: strict),
        // The commands in-process: exit codes and what they leave on disk.
        .testTarget(
            name: "ElenaCLITests", dependencies: ["ElenaCLI", "ElenaCore", "ElenaTestKit", "ElenaTestSupport"], swiftSettings: strict),
        // The built `elena-run` binary on bundled examples, against SQLite and PostgreSQL, the fake ComfyUI and the
        // fake Fanvue.
        .testTarget(
            name: "ElenaEndToEndTests",
            dependencies: [
                "elena-run", "ElenaCore", "ElenaEngine", "ElenaFanvue", "ElenaFanvueFake", "ElenaFanvueHarness",
                "ElenaStore", "ElenaTestKit", "ElenaTestSupport", "ElenaComfyFake",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
    ],
    cxxLanguageStandard: .cxx17
)
