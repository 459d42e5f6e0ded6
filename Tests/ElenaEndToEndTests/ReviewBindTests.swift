import AsyncHTTPClient
import ElenaCore
import ElenaFanvueHarness
import ElenaTestKit
import ElenaTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The review page through the binary: it listens on 127.0.0.1 only (this machine's other addresses are refused)
/// and answers nothing without its token.
@Suite struct ReviewBindTests {
    /// The machine's IPv4 addresses other than loopback.
    static func otherAddresses() -> [String] {
        var result: [String] = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ifa_addr, address.pointee.sa_family == UInt16(AF_INET) {
                var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if !text.hasPrefix("127.") { result.append(text) }
                }
            }
            cursor = entry.pointee.ifa_next
        }
        return result
    }

    @Test func theReviewPageListensOnLoopbackOnlyAndNeedsItsToken() async throws {
        let harness = try await FanvueHarness.start()
        try await withCleanup({ await harness.stop() }) {
            let drop = try FanvueDrop.make(harness, images: 2)
            do {
                let environment = drop.processEnvironment()
                let runner = CommandLineRunner(environment: environment, workingDirectory: harness.folder.path)
                #expect(try await runner.run(["drop.yaml"]).exitCode == 3)
                let log = harness.folder("review.log")
                let server = try runner.start(["review", "drop.yaml", "--no-browser", "--no-run"], logPath: log)
                defer { server.kill() }
                let url = try await server.line(after: "Review page: ")
                let page = try #require(url, "no URL printed:\n\(server.log)")
                let components = try #require(URLComponents(string: page))
                #expect(components.host == "127.0.0.1")
                let port = try #require(components.port)

                let withToken = try await HTTPClient.shared.execute(HTTPClientRequest(url: page), timeout: .seconds(10))
                #expect(withToken.status == .ok)
                let withoutToken = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/"), timeout: .seconds(10))
                #expect(withoutToken.status.code == 401 || withoutToken.status.code == 403, "\(withoutToken.status)")

                // The kernel's own table of listening sockets: this port is bound to 127.0.0.1 and nothing else.
                // (Read to the end: procfs reports a size of 0, and a one-shot read stops at the first page.)
                func readAll(_ path: String) -> String {
                    String(decoding: FileHandle(forReadingAtPath: path)?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
                }
                let table = readAll("/proc/net/tcp") + readAll("/proc/net/tcp6")
                let suffix = String(format: ":%04X", port)
                var listening: [String] = []
                for line in table.split(separator: "\n") {
                    let fields = line.split(separator: " ").map(String.init)
                    if fields.count > 3, fields[3] == "0A", fields[1].hasSuffix(suffix) { listening.append(fields[1]) }
                }
                #expect(listening == [String(format: "0100007F:%04X", port)], "\(listening)")

                let others = Self.otherAddresses()
                print("other addresses tried: \(others)")
                for address in others {
                    var request = HTTPClientRequest(url: "http://\(address):\(port)/?token=" + (components.queryItems?.first?.value ?? ""))
                    request.method = .GET
                    await #expect(throws: (any Error).self, "\(address):\(port) must not answer") {
                        _ = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                    }
                }
            }
        }
    }
}
