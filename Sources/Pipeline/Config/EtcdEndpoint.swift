/// One member of an etcd cluster, as `coordination = { etcd = { "http://host:2379" } }` names
/// it: the JSON gateway over plain HTTP (TLS is a proxy's job, as for the webhook).
public struct EtcdEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `http://host:port` (port 2379 when left out); nil for anything else.
    public init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst(7)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@") else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":"), let p = after.isEmpty ? 2379 : Int(after.dropFirst()) else {
                return nil
            }
            port = p
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = p
        } else {
            host = String(rest)
            port = 2379
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}
