/// A call to etcd that did not get its answer: which member, which step, and why. `timedOut`
/// says the member did not answer in time (no quorum, or a partition), which is what a
/// leader counts its lease against.
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public let endpoint: EtcdEndpoint?
    public let operation: String
    public let message: String
    public let timedOut: Bool

    init(_ endpoint: EtcdEndpoint?, _ operation: String, _ message: String, timedOut: Bool = false) {
        self.endpoint = endpoint
        self.operation = operation
        self.message = message
        self.timedOut = timedOut
    }

    public var description: String {
        "etcd \(endpoint.map { "\($0)" } ?? "cluster") \(operation): \(message)"
    }
}
