#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// A TCP socket bound to 127.0.0.1: the one place that asks the system whether a local port is free (the review
/// page checks its port before a drop runs; tests hold a port busy or pick a free one).
package final class LoopbackSocket: Sendable {
    /// The open descriptor.
    package let descriptor: Int32
    /// The port bound (the one the system chose when 0 was asked).
    package let port: Int

    /// Binds 127.0.0.1:`port` (0: any free port), listening when `listening`; closed when released.
    /// - Returns: the socket, or the `errno` of the failed step (`EADDRINUSE` when the port is taken).
    package static func bind(port: Int = 0, listening: Bool = false) -> Result<LoopbackSocket, LoopbackSocketError> {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return .failure(LoopbackSocketError(code: errno)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(socket, $0, length) == 0 && (!listening || listen(socket, 1) == 0)
                    && getsockname(socket, $0, &length) == 0
            }
        }
        guard ready else {
            let code = errno
            Glibc.close(socket)
            return .failure(LoopbackSocketError(code: code))
        }
        return .success(LoopbackSocket(descriptor: socket, port: Int(UInt16(bigEndian: address.sin_port))))
    }

    private init(descriptor: Int32, port: Int) {
        self.descriptor = descriptor
        self.port = port
    }

    /// A port nothing holds right now (the socket is closed again; a caller binds it soon after). It is taken below
    /// the system's ephemeral range, which a server asking for port 0 is given from: between this answer and the
    /// caller's bind, another program starting a server cannot be handed the same port (a test that printed "the
    /// port is in use" did exactly that).
    package static func freePort() -> Int? {
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .map { $0.split(whereSeparator: \.isWhitespace).compactMap { Int($0) } } ?? []
        let ephemeralStart = range.first ?? 32768
        if ephemeralStart > 11000 {
            var random = SystemRandomNumberGenerator()
            for _ in 0..<64 {
                let port = Int.random(in: 10000..<(ephemeralStart - 1), using: &random)
                if let socket = try? bind(port: port).get() { return socket.port }
            }
        }
        return try? bind().get().port
    }

    deinit { Glibc.close(descriptor) }
}

/// Why binding a loopback socket failed.
package struct LoopbackSocketError: Error, Equatable {
    /// The system's `errno`.
    package let code: Int32
}
