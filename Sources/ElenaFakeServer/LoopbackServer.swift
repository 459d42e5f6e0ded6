package import Hummingbird
import ElenaCore
import Foundation
import Logging
package import NIOCore
import ServiceLifecycle

/// The fake servers' start-up: run a Hummingbird application on 127.0.0.1 and return once it accepts
/// connections, with the port it got and a handle that stops it.
package enum LoopbackServer {
    /// A server that stopped before it listened (the port was taken, or it failed to start).
    package struct NotListening: Error, Sendable, CustomStringConvertible {
        /// Which server.
        package var description: String
    }

    /// A running server.
    package struct Running: Sendable {
        /// The port it listens on.
        package let port: Int
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let ended: Locked<Bool>

        /// Stops it and waits until it has: a graceful shutdown (the listener closes, the connections accepted so
        /// far are served, requests in flight finish, idle connections close). Cancelling a server traps in NIO
        /// ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2637) when a connection has been
        /// accepted and not yet handed to the server, and a loaded test process is slow to hand it over: that
        /// crashed the whole test run. So the server is cancelled only if the graceful shutdown has not ended it
        /// within 30 seconds (by then the listener is long closed and every accepted connection handed over), and
        /// one that has not ended five seconds after that is left behind rather than hanging the test that stops it.
        /// A fake with open websockets closes them first (a graceful shutdown waits for them).
        /// - Returns: whether the graceful shutdown ended it (false: it had to be cancelled, or was left behind).
        @discardableResult
        package func stop() async -> Bool {
            await group.triggerGracefulShutdown()
            if await hasEnded(within: .seconds(30)) { return true }
            task.cancel()
            _ = await hasEnded(within: .seconds(5))
            return false
        }

        private func hasEnded(within limit: Duration) async -> Bool {
            let deadline = ContinuousClock.now + limit
            while !ended.withLock({ $0 }) && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return ended.withLock { $0 }
        }
    }

    /// Starts an application. `make` builds it with the `onServerRunning` hook it is given.
    /// - Parameter name: names the server in the error, e.g. `the fake Fanvue server`.
    /// - Throws: the application's own error when it stops before listening, else `NotListening`.
    package static func start<App: ApplicationProtocol>(
        _ name: String, _ make: (@escaping @Sendable (any Channel) async -> Void) -> App
    ) async throws -> Running {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = make { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }
        let group = ServiceGroup(
            services: [application], logger: Logger(label: "elena.fake", factory: { _ in SwiftLogNoOpLogHandler() }))
        let ended = Locked(false)  // set when the server's task has ended
        let task = Task {
            defer {
                ended.withLock { $0 = true }
                continuation.finish()
            }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            try await task.value
            throw NotListening(description: "\(name) stopped before it listened")
        }
        return Running(port: port, group: group, task: task, ended: ended)
    }
}
