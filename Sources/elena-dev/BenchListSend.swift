import ArgumentParser
import ElenaCore
import ElenaFanvue
import ElenaFanvueFake
import ElenaTestKit
import ElenaTestSupport
import Foundation

/// `elena-dev bench-list-send`: one uploaded item, a list of N subscribers of whom some got it by hand in Fanvue,
/// and the real `elena-run` binary against the fake Fanvue: the requests `reconcile` takes to read every chat, and
/// the requests `send --to subscribers` takes. Before this send built an exclusion list, a list where anyone already
/// had the item cost one message per member who lacked it; that figure is printed beside the measured one.
struct BenchListSend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-list-send",
        abstract: "Count the requests of a reconcile and of a list send where some fans have the item, against the fake.")

    @Option(help: "The elena-run binary to measure.")
    var binary = ".build/release/elena-run"

    @Option(help: "Fans in the list.")
    var members = 2000

    @Option(help: "Fans who got the item by hand before.")
    var excluded = 30

    func run() async throws {
        var settings = FakeFanvue.Configuration()
        settings.rateLimit = 100_000
        settings.readyAfterPolls = 0
        settings.readyAfterSeconds = 0
        try await BenchLogin.withFake(settings, folder: "elena-bench-list") { fake, folder in
            try await measure(fake, settings: settings, folder: folder)
        }
    }

    func measure(_ fake: FakeFanvue, settings: FakeFanvue.Configuration, folder: TemporaryDirectory) async throws {
        _ = try SourceFixtures.writeImages(into: folder, count: 1)
        try folder.write(
            """
            version: 1
            drop: bench-list
            library: \(folder("library"))
            source: {dir: src}
            crop: {strategy: top_fraction}
            publish: {to: fanvue, vault: elena-ppv, price: 12.00, caption: "New set"}
            """, to: "drop.yaml")
        let runner = try BenchLogin.runner(
            fake, settings: settings, folder: folder, binary: binary, environment: ["ELENA_LIBRARY": folder("library")])
        guard try await runner.run(["drop.yaml", "--quiet"]).exitCode == 3 else {
            throw ValidationError("the first run should stop at the review gate")
        }
        try BenchLogin.approveAll(drop: "bench-list", library: folder("library"))
        let published = try await runner.run(["drop.yaml", "--quiet"])
        guard published.exitCode == 0, let media = fake.media.first?.uuid else {
            throw ValidationError("the publishing run failed:\n\(published)")
        }
        let fans = (0..<members).map { String(format: "5a0e0000-0000-4000-8000-%012d", $0) }
        fake.seedSubscribers(fans.map { .object(["uuid": .string($0), "handle": .string("fan")]) })
        // Every fan has a chat (a hello from the creator); `excluded` of them got the item by hand.
        for fan in fans { fake.sendByHand(to: fan, mediaUUIDs: [], text: "hello") }
        for fan in fans.prefix(excluded) { fake.sendByHand(to: fan, mediaUUIDs: [media], priceCents: 900) }

        func timed(_ arguments: [String]) async throws -> (calls: [FakeFanvue.Call], seconds: Double, output: String) {
            let mark = fake.calls.count
            let start = Date()
            let result = try await runner.run(arguments)
            guard result.exitCode == 0 else { throw ValidationError("\(arguments.joined(separator: " ")) failed:\n\(result)") }
            let calls = fake.calls.dropFirst(mark).filter { !$0.path.hasPrefix("/oauth2/") && !$0.path.hasPrefix("/storage/") }
            return (Array(calls), Date().timeIntervalSince(start), result.standardOutput)
        }
        let reconcile = try await timed(["reconcile", "--json"])
        let again = try await timed(["reconcile", "--json"])
        let dry = try await timed(["send", "drop:bench-list", "--to", "subscribers", "--price", "12", "--dry-run", "--json"])
        let plan = try JSONValue.parse(dry.output)["audience"]
        let send = try await timed(["send", "drop:bench-list", "--to", "subscribers", "--price", "12"])
        let writes = send.calls.filter { $0.method != "GET" }
        let recipients = fake.massMessages.first?["recipientCount"]?.intValue ?? 0

        print("members \(members)")
        print("excluded \(excluded)")
        print("reconcile_requests \(reconcile.calls.count)")
        print(String(format: "reconcile_seconds %.2f", reconcile.seconds))
        print(String(format: "reconcile_minutes_at_200_per_minute %.2f", Double(reconcile.calls.count) / 200))
        print("reconcile_again_requests \(again.calls.count)")
        print("send_requests_before \(members - excluded)")
        print("send_requests_predicted \(plan?["requests"]?["total"]?.intValue ?? -1)")
        print("send_requests \(send.calls.count)")
        print("send_writes \(writes.count)")
        print(String(format: "send_seconds %.2f", send.seconds))
        print("mass_messages \(fake.massMessages.count)")
        print("mass_message_recipients \(recipients)")
        var groups: [String: Int] = [:]
        for call in reconcile.calls + send.calls { groups[BenchFanvue.endpoint(call), default: 0] += 1 }
        for (endpoint, count) in groups.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            print(String(format: "  %5d  %@", count, endpoint))
        }
    }
}
