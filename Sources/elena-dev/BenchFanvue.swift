import ArgumentParser
import ElenaFanvue
import ElenaFanvueFake
import ElenaTestKit
import ElenaTestSupport
import Foundation

/// `elena-dev bench-fanvue`: a drop of synthetic images published by the real `elena-run` binary to the fake
/// Fanvue with the real rate-limit bucket (200 requests) refilled over a shortened window. Prints the API requests
/// per uploaded image (storage PUTs go to S3, not to the API, and are counted apart), 429 answers, and the share of
/// the rate-limit budget the run used.
struct BenchFanvue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-fanvue",
        abstract: "Count the Fanvue API requests a drop of N images costs, against the fake server.")

    @Option(help: "The elena-run binary to measure.")
    var binary = ".build/release/elena-run"

    @Option(help: "Images in the drop.")
    var images = 100

    @Option(help: "Requests per rate-limit window (Fanvue: 200).")
    var limit = 200

    @Option(help: "Seconds per rate-limit window (Fanvue: 60; shortened so the benchmark runs in seconds).")
    var window = 6.0

    @Option(help: "Seconds the fake takes to process an upload before it is ready.")
    var processing = 0.5

    @Option(help: "Nodes run at once (elena-run --jobs).")
    var jobs = 8

    func run() async throws {
        var settings = FakeFanvue.Configuration()
        settings.rateLimit = limit
        settings.rateWindow = window
        settings.readyAfterPolls = 0
        settings.readyAfterSeconds = processing
        try await BenchLogin.withFake(settings, folder: "elena-bench-fanvue") { fake, folder in
            try await measure(fake, settings: settings, folder: folder)
        }
    }

    func measure(_ fake: FakeFanvue, settings: FakeFanvue.Configuration, folder: TemporaryDirectory) async throws {
        _ = try SourceFixtures.writeImages(into: folder, count: images, width: 640, height: 960)
        try folder.write(
            """
            version: 1
            drop: bench-fanvue
            library: \(folder("library"))
            source: {dir: src}
            crop: {strategy: top_fraction}
            publish:
              to: fanvue
              vault: elena-ppv
              price: 12.00
              caption: "New set"
            """, to: "drop.yaml")
        let runner = try BenchLogin.runner(fake, settings: settings, folder: folder, binary: binary)

        let first = try await runner.run(["drop.yaml", "--quiet", "--jobs", String(jobs)])
        guard first.exitCode == 3 else { throw ValidationError("the first run should stop at the review gate:\n\(first)") }
        try BenchLogin.approveAll(drop: "bench-fanvue", library: folder("library"))
        let start = Date()
        let second = try await runner.run(["drop.yaml", "--quiet", "--jobs", String(jobs)])
        let elapsed = Date().timeIntervalSince(start)
        guard second.exitCode == 0 else { throw ValidationError("the publishing run failed:\n\(second)") }

        let calls = fake.calls
        let api = calls.filter { !$0.path.hasPrefix("/storage/") && !$0.path.hasPrefix("/oauth2/") }
        let puts = calls.filter { $0.path.hasPrefix("/storage/") }
        let uploaded = fake.media.filter { $0.status == .ready }.count
        guard uploaded == images else { throw ValidationError("\(uploaded) of \(images) images are ready at the fake") }
        let windows = max(1, (elapsed / window).rounded(.up))
        let share = Double(api.count) / (Double(limit) * windows)
        var groups: [String: Int] = [:]
        for call in api { groups[Self.endpoint(call), default: 0] += 1 }

        print("uploaded_images \(uploaded)")
        print("api_requests \(api.count)")
        print(String(format: "requests_per_image %.3f", Double(api.count) / Double(max(1, uploaded))))
        print("storage_puts \(puts.count)")
        print("responses_429 \(api.filter { $0.status == 429 }.count)")
        print(String(format: "publish_seconds %.1f", elapsed))
        print(String(format: "budget_share %.2f", share))
        print("bucket \(limit) per \(window) s; the fake processes an upload in \(processing) s; --jobs \(jobs)")
        for (endpoint, count) in groups.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            print(String(format: "  %5d  %@", count, endpoint))
        }
    }

    /// A call's endpoint with its ids replaced by placeholders.
    static func endpoint(_ call: FakeFanvue.Call) -> String {
        let parts = call.path.split(separator: "/").map { part -> String in
            let text = String(part)
            return text.count >= 20 || text.allSatisfy(\.isNumber) ? "{id}" : text
        }
        return call.method + " /" + parts.joined(separator: "/")
    }
}
