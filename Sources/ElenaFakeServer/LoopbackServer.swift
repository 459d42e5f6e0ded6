public import Hummingbird
public import NIOCore

/// The fake servers' start-up: run a Hummingbird application on 127.0.0.1 and return once it accepts
/// connections, with the port it got and the task that runs it (cancel the task to stop it).
public enum LoopbackServer {
    /// A server that stopped before it listened (the port was taken, or it failed to start).
    public struct NotListening: Error, Sendable, CustomStringConvertible {
        /// Which server.
        public var description: String
    }

    /// Starts an application. `make` builds it with the `onServerRunning` hook it is given.
    /// - Parameter name: names the server in the error, e.g. `the fake Fanvue server`.
    /// - Throws: the application's own error when it stops before listening, else `NotListening`.
    public static func start<App: ApplicationProtocol>(
        _ name: String, _ make: (@escaping @Sendable (any Channel) async -> Void) -> App
    ) async throws -> (port: Int, task: Task<Void, any Error>) {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = make { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        }
        let task = Task {
            defer { continuation.finish() }
            try await application.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            try await task.value
            throw NotListening(description: "\(name) stopped before it listened")
        }
        return (port, task)
    }
}
