import ElenaCore
package import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The OAuth redirect target: a one-shot HTTP listener on 127.0.0.1 at the redirect URI's port and path. It checks
/// `state` (a mismatch is refused, as a forged redirect would be) and hands back the authorization code.
package struct LoopbackListener: Sendable {
    /// The redirect URI it serves.
    package let redirectURI: String
    /// The state the authorize request carried.
    package let state: String

    /// Creates a listener.
    package init(redirectURI: String, state: String) {
        self.redirectURI = redirectURI
        self.state = state
    }

    /// Why no code arrived.
    package struct Failure: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    /// The code (or why none came), resolved once; `wait` returns it whenever it is asked.
    final class Outcome: Sendable {
        private struct State {
            var continuation: CheckedContinuation<String, any Error>?
            var result: Result<String, any Error>?
        }
        private let state = Locked(State())

        func resolve(_ value: Result<String, any Error>) {
            let waiting = state.withLock { state -> CheckedContinuation<String, any Error>? in
                guard state.result == nil else { return nil }
                state.result = value
                defer { state.continuation = nil }
                return state.continuation
            }
            waiting?.resume(with: value)
        }

        /// The code; a cancelled wait ends at once (the login's timeout, a listener that could not start).
        func wait() async throws -> String {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let known = state.withLock { state -> Result<String, any Error>? in
                        if state.result == nil { state.continuation = continuation }
                        return state.result
                    }
                    if let known { continuation.resume(with: known) }
                }
            } onCancel: {
                resolve(.failure(CancellationError()))
            }
        }
    }

    /// Listens until the redirect arrives (or `timeout` passes); `ready` is called once the port is open.
    package func waitForCode(timeout: TimeInterval, ready: @escaping @Sendable () async -> Void) async throws -> String {
        guard let components = URLComponents(string: redirectURI), let port = components.port, let host = components.host,
            host == "127.0.0.1" || host == "localhost"
        else {
            throw Failure(
                description: "FANVUE_REDIRECT_URI must be a loopback URL with a port, like http://127.0.0.1:8723/callback")
        }
        let path = components.path.isEmpty ? "/" : components.path
        let outcome = Outcome()
        let expected = state
        let router = Router()
        router.get(RouterPath(path)) { request, _ -> Response in
            let query = request.uri.queryParameters
            let page: String
            let result: Result<String, any Error>
            if let error = query.get("error") {
                // The description comes form-encoded ("The+resource+owner+denied+the+request").
                let reason = (query.get("error_description") ?? "").replacingOccurrences(of: "+", with: " ")
                result = .failure(Failure(description: "Fanvue refused the login (\(error))" + (reason.isEmpty ? "" : ": \(reason)")))
                page = "Login refused. You can close this tab."
            } else if query.get("state") != expected {
                result = .failure(Failure(description: "the redirect's state did not match: the login was not started here"))
                page = "This login was not started by elena-run. You can close this tab."
            } else if let code = query.get("code"), !code.isEmpty {
                result = .success(code)
                page = "elena-run is logged in to Fanvue. You can close this tab."
            } else {
                result = .failure(Failure(description: "the redirect carried no code"))
                page = "No authorization code arrived. You can close this tab."
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.connection] = "close"  // so the listener can stop at once
            let body = ByteBuffer(string: "<!doctype html><title>elena-run</title><p>\(page)</p>")
            // The outcome is settled once the page is written: stopping the listener earlier could cut the browser off.
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody(contentLength: body.readableBytes) { writer in
                    defer { outcome.resolve(result) }  // also when the browser went away mid-page
                    try await writer.write(body)
                    try await writer.finish(nil)
                })
        }
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { _ in Task { await ready() } },
            logger: Logger(label: "elena.fanvue.login", factory: { _ in SwiftLogNoOpLogHandler() }))
        // The listener is stopped by a graceful shutdown, never by cancelling it: cancelling a server traps in NIO
        // ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2637) when a connection has just been
        // accepted and not yet handed over, as a browser's second connection (a favicon) at the redirect would be.
        let server = ServiceGroup(
            services: [application], logger: Logger(label: "elena.fanvue.login", factory: { _ in SwiftLogNoOpLogHandler() }))
        let serving = Task { try await server.run() }
        let first = await withTaskGroup(of: Result<String, any Error>?.self) { group -> Result<String, any Error> in
            group.addTask {
                do {
                    try await serving.value
                    return .failure(Failure(description: "the login listener stopped"))
                } catch {
                    return .failure(
                        Failure(
                            description: "cannot listen on 127.0.0.1:\(port) for Fanvue's redirect (FANVUE_REDIRECT_URI): "
                                + TransportWords.describe(error)))
                }
            }
            group.addTask {
                do { return .success(try await outcome.wait()) } catch { return .failure(error) }
            }
            group.addTask {
                // A cancelled sleep (the code came first) decides nothing.
                guard (try? await Task.sleep(for: .seconds(timeout))) != nil else { return nil }
                return .failure(Failure(description: "no redirect arrived within \(Int(timeout)) s"))
            }
            var first: Result<String, any Error>?
            while first == nil, let next = await group.next() { first = next }
            // The waits end at once; the task waiting for the server ends once its graceful shutdown has (the page
            // was sent with `Connection: close`, idle connections are closed). Should a browser hold a connection
            // open regardless, the server is cancelled a minute on: every connection accepted before the listener
            // closed has been handed over by then (five seconds were not enough on a machine loaded to the full).
            await server.triggerGracefulShutdown()
            let backstop = Task {
                guard (try? await Task.sleep(for: .seconds(60))) != nil else { return }
                serving.cancel()
            }
            group.cancelAll()
            while await group.next() != nil {}
            backstop.cancel()
            return first ?? .failure(Failure(description: "the login listener stopped"))
        }
        return try first.get()
    }
}
