import Hummingbird
import NIOCore

/// The request context of the fake: Hummingbird's core storage plus the connection (so a fault can close it), the
/// request body (read once by `FakeGate`, which needs its size) and the caller once the bearer is checked.
struct FakeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP connection the request came on.
    let channel: any Channel
    /// The whole request body.
    var body = ByteBuffer()
    /// The caller of an API route (set by `FakeGate`).
    var principal: FakePrincipal?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    var maxUploadSize: Int { FakeFanvue.maximumBodySize }
}
