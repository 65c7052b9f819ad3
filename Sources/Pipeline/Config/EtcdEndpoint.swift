/// One member of an etcd cluster, as `coordination = { etcd = { "http://host:2379" } }` names
/// it: the JSON gateway over plain HTTP (TLS is a proxy's job, as for the webhook).
public struct EtcdEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `http://host:port` (port 2379 when left out, no path); nil for anything else.
    public init?(_ url: String) {
        guard let parsed = WebhookURL(url, defaultPort: 2379), parsed.path == "/" else { return nil }
        host = parsed.host
        port = parsed.port
    }

    public var description: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}
