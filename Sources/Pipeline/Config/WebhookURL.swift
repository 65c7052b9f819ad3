/// `http://host[:port]/path` (no TLS, no user info): where notifications are POSTed.
public struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The path and query, from the first `/` (`/` when none is given).
    public var path: String

    /// The URL parsed, or nil when it is not `http://host[:port][/path]` (the port
    /// `defaultPort` when left out).
    public init?(_ text: String, defaultPort: Int = 80) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        guard !authority.isEmpty, !authority.contains("@"), path.allSatisfy({ $0 > " " && $0 != "\u{7f}" }) else {
            return nil
        }
        if authority.hasPrefix("[") {
            // [v6]:port
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            guard let p = after.isEmpty ? defaultPort : Int(after.dropFirst()) else { return nil }
            port = p
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    public var description: String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)"
    }
}
