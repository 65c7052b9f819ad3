/// `settings { coordination = { etcd = { "http://…:2379", … }, name = "sender-a", lease = 10 } }`:
/// two or more senders of the same script, of which the one holding each pipeline's leader
/// key in etcd pushes and the others stand by.
public struct CoordinationSettings: Sendable, Equatable {
    /// The etcd members' JSON gateways.
    public var endpoints: [EtcdEndpoint]
    /// This sender's name, as the leader key, the status and the audit show it.
    public var name: String
    /// Seconds of the leader's lease: a dead leader's pipelines are taken over within it (and 2 s).
    public var lease: Int
    /// Each sender's source, as a module of the `runner serve` on its machine, by sender
    /// name: the leader sends its source to every other one's, so that a standby that takes
    /// over holds what was sent, and no revision is approved before the standbys have it.
    public var peers: [String: TargetURI] = [:]

    /// The lease a script that names none gets.
    public static let defaultLease = 10
    /// The shortest and longest lease accepted.
    public static let leaseRange = 2...3600

    public init(endpoints: [EtcdEndpoint], name: String, lease: Int = Self.defaultLease) {
        self.endpoints = endpoints
        self.name = name
        self.lease = lease
    }

    /// The targets of `config` that keep no fence (`file://`, `rsync://`): a deposed leader
    /// could still write there.
    public static func unfenced(_ config: PipelineConfig) -> [TargetURI] {
        config.destinations.map(\.uri).filter {
            switch $0 {
            case .file, .rsync: true
            case .runner, .ssh, .dial: false
            }
        }
    }

    /// Whether `name` is usable as a sender's name: letters, digits, `.`, `-`, `_`, at most 64.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0))
            }
    }
}
