import Foundation

/// A failed HTTP exchange in words. The clients' libraries describe a dropped connection as
/// "connection reset (error set): Connection refused) (errno: 111)" or "HTTPClientError.connectTimeout"; people get
/// what happened. Works on the error's text, so the pure core needs none of those libraries.
package enum TransportWords {
    /// What happened to the exchange, e.g. `the connection was refused`.
    package static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        let lowered = text.lowercased()
        let rules: [(needles: [String], words: String)] = [
            (["connection refused", "errno: 111"], "the connection was refused (is it running?)"),
            (["address already in use", "errno: 98"], "the port is in use (another program listens there)"),
            (["permission denied", "errno: 13"], "permission denied (ports below 1024 need root)"),
            (["connection reset", "errno: 104", "remoteconnectionclosed", "broken pipe", "errno: 32"],
             "the connection was closed by the other side"),
            (["connecttimeout", "errno: 110"], "no connection within the time limit"),
            (["readtimeout", "deadlineexceeded", "deadline exceeded"], "no answer within the time limit"),
            (["no route to host", "errno: 113", "network is unreachable", "errno: 101"], "the host cannot be reached"),
            (["nodename nor servname", "name or service not known", "unknownhost", "lookup", "resolution"],
             "the host name is not known"),
            (["wrong_version_number"], "the secure connection failed (is the server speaking plain http://?)"),
            (["handshakefailed", "tlshandshake", "certificate", "sslerror", "boringssl"], "the secure connection failed"),
            (["emptyscheme", "unsupportedscheme", "emptyhost"], "the URL is not valid (it needs http:// or https:// and a host)"),
        ]
        for rule in rules where rule.needles.contains(where: { lowered.contains($0) }) { return rule.words }
        return text.replacingOccurrences(of: "HTTPClientError.", with: "")
    }

    /// Whether the other side was not there at all (nothing was sent, so trying again is safe).
    package static func isRefused(_ error: any Error) -> Bool {
        let lowered = "\(error)".lowercased()
        return lowered.contains("connection refused") || lowered.contains("errno: 111") || lowered.contains("connecttimeout")
    }
}
