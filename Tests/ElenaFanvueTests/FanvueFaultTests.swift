import ElenaCore
import ElenaEngine
import ElenaFanvue
import ElenaFanvueFake
import ElenaFanvueHarness
import ElenaStore
import ElenaTestKit
import ElenaTestSupport
import Foundation
import Testing

/// Network faults a drop must survive without doing anything twice: answers lost after Fanvue acted, 429 storms
/// without `Retry-After`, storage 503 bursts, and a request slower than the client's deadline.
@Suite struct FanvueFaultTests {
    static let fan = "7c1b1c1e-1111-4aaa-8bbb-000000000001"

    /// A drop of `images` approved images, waiting at the review gate no more.
    static func approvedDrop(_ harness: FanvueHarness, images: Int, extra: String = "") async throws -> FanvueDrop {
        let drop = try FanvueDrop.make(harness, images: images, extra: extra)
        #expect(try await drop.run().exitCode == 3)
        try drop.approveAll()
        return drop
    }

    @Test func answersLostAfterFanvueActedNeverLeadToASecondUploadPostOrMessage() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try await Self.approvedDrop(
                harness, images: 3,
                extra: "  post: {audience: subscribers, allow_ppv_items: true}\n  message: {to: [\(Self.fan)], price: 10.00}\n")
            let fake = harness.fake
            fake.dropNextAnswers(2, pathPrefix: "/media/uploads/", method: "PATCH")  // completed, the client never hears it
            fake.dropNextAnswers(2, pathPrefix: "/storage/", method: "PUT")  // stored, the client never hears it
            fake.dropNextAnswers(1, pathPrefix: "/posts", method: "POST")
            fake.dropNextAnswers(1, pathPrefix: "/chats/", method: "POST")
            let report = try await drop.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            #expect(fake.media.filter { $0.status == .ready }.count == 3)
            #expect(Set(fake.media.filter { $0.status == .ready }.compactMap(\.sha256)).count == 3, "one ready media per image")
            #expect(fake.posts.count == 1, "the lost post was found, not posted again")
            #expect(fake.messages.count == 1, "the lost message was found, not sent again")
            #expect(fake.calls.contains { $0.status == 0 && $0.method == "PATCH" }, "the faults were hit")
        }
    }

    @Test func a429StormWithoutRetryAfterIsWaitedOutWithBackoff() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            harness.fake.rateLimitStorm(4, retryAfter: nil)
            let made = try await harness.client.ensureFolder("after-a-storm")
            #expect(made)
            let statuses = harness.fake.calls.filter { $0.path.hasPrefix("/vault") }.map(\.status)
            #expect(statuses == [429, 429, 429, 429, 201], "\(statuses)")
        }
    }

    @Test func aStorageBurstOf503sInADropIsRetried() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try await Self.approvedDrop(harness, images: 3)
            harness.fake.failNext(4, status: 503, pathPrefix: "/storage/")
            let report = try await drop.run()
            #expect(report.failureCount == 0, "\(report.failures)")
            #expect(harness.fake.media.filter { $0.status == .ready }.count == 3)
            #expect(harness.fake.calls.filter { $0.path.hasPrefix("/storage/") && $0.status == 503 }.count == 4)
        }
    }

    /// A message slower than the client's deadline: the outcome is unknown, so nothing is sent again blindly; the
    /// next run finds the message Fanvue made meanwhile and records it.
    @Test func aMessageSlowerThanTheDeadlineIsFoundNotSentTwice() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            var drop = try await Self.approvedDrop(harness, images: 2)
            #expect(try await drop.run().failureCount == 0, "uploaded with the normal client first")
            var configuration = harness.configuration
            configuration.requestTimeout = 1
            drop.client = FanvueClient(
                configuration: configuration,
                tokens: TokenProvider(store: TokenStore(configFolder: harness.folder("config")), oauth: OAuthClient(configuration: configuration)))
            drop.manifestText += "\n  message: {to: [\(Self.fan)], price: 10.00}\n"
            harness.fake.delayNext(1, by: 3, pathPrefix: "/chats/\(Self.fan)/message")
            let slow = try await drop.run()
            #expect(slow.failures.contains { $0.node.stage == .message }, "the outcome is unknown: the message node fails")
            #expect(harness.fake.messages.count <= 1)
            let deadline = Date().addingTimeInterval(30)
            while harness.fake.messages.isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(harness.fake.messages.count == 1, "Fanvue made it after the deadline")
            drop.client = nil  // the next run, with the usual deadline
            let next = try await drop.run()
            #expect(next.failureCount == 0, "\(next.failures)")
            #expect(harness.fake.messages.count == 1, "found, not sent again")
            let store = try await drop.store()
            #expect(try await store.allSends().allSatisfy { $0.messageUUID == harness.fake.messages.first?["messageUuid"]?.stringValue })
            await store.close()
        }
    }
}
