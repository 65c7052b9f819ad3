import FoundationEssentials

/// The rollout's state (the head, each group's pointers, each host's revisions) in etcd under
/// `/runner/<pipeline>/`, where a standby finds it when it takes over: `head`, `groups/<name>`
/// and `hosts/<uri>`, each a JSON value, and `revisions/<n>`: the identity of each revision the
/// state names (`RevisionLog.identity`), by which another sender knows the same content under
/// its own numbers (`RolloutState.translated`). Every write is fenced: a txn that holds only while
/// the leader key is still the one this leader made (its create_revision, the token), so a
/// deposed leader writes nothing. Only what changed since the last save is written, in txns
/// of at most `opsPerTxn` operations (etcd's `--max-txn-ops` is 128 by default).
public final class EtcdRolloutStore {
    /// The `head` key's value: the pipeline's newest revision, which sender moved it there
    /// and when (an operator's stale command is told this).
    public struct Head: Codable, Sendable, Equatable {
        public var revision: Int
        public var by: String
        /// Wall-clock seconds since the epoch.
        public var at: Double

        /// The value read back (a bare number from before the author was kept reads as such).
        public static func read(_ value: [UInt8]) -> Head? {
            if let head = try? JSONDecoder().decode(Head.self, from: Data(value)) { return head }
            return Int(String(decoding: value, as: UTF8.self)).map { Head(revision: $0, by: "", at: 0) }
        }

        /// "6 by sender-b at 2026-12-07T21:05:00Z".
        public var text: String {
            "\(revision)\(by.isEmpty ? "" : " by \(by)")\(at > 0 ? " at \(Date(timeIntervalSince1970: at).formatted(.iso8601))" : "")"
        }
    }

    public let client: EtcdClient
    public let prefix: String
    /// The sender's name its head writes carry.
    public let author: String
    /// The leader key every write is fenced on.
    public let leaderKey: String
    /// What etcd holds as far as this store knows (after a load or a save).
    private var known = RolloutState()
    /// The identity of each revision etcd names (after a load or a save).
    public private(set) var identities: [Int: String] = [:]
    /// Writes (txns) so far: `make bench` reports them per revision.
    public private(set) var writes = 0
    /// The audit's keys (`audit/<ms>-<sender>-<n>`, oldest first), of which the newest
    /// `auditKept` stay.
    private var auditKeys: [String] = []
    static let auditKept = 1000

    /// Operations in one txn, the fence's compare aside.
    static let opsPerTxn = 100

    /// The store of `pipeline`'s state.
    public init(client: EtcdClient, pipeline: String, author: String = "") {
        self.client = client
        self.author = author
        prefix = "/runner/\(pipeline)/"
        leaderKey = prefix + "leader"
    }

    /// The state as etcd has it (an empty one when nothing was saved yet).
    public func load() throws(EtcdError) -> RolloutState {
        var state = RolloutState()
        var identities: [Int: String] = [:]
        var audit: [String] = []
        let decoder = JSONDecoder()
        for kv in try client.range(prefix, prefix: true).kvs {
            let name = String(kv.key.dropFirst(prefix.count))
            if name == "head" {
                state.head = Head.read(kv.value)?.revision ?? 0
            } else if name.hasPrefix("groups/") {
                state.groups[String(name.dropFirst(7))] = try? decoder.decode(
                    RolloutState.Group.self, from: Data(kv.value))
            } else if name.hasPrefix("hosts/") {
                state.hosts[String(name.dropFirst(6))] = try? decoder.decode(
                    RolloutState.Host.self, from: Data(kv.value))
            } else if name.hasPrefix("revisions/"), let number = Int(name.dropFirst(10)) {
                identities[number] = String(decoding: kv.value, as: UTF8.self)
            } else if name.hasPrefix("audit/") {
                audit.append(kv.key)
            }
        }
        auditKeys = audit.sorted()
        (known, self.identities) = (state, identities)
        return state
    }

    /// Writes what changed from what etcd holds, fenced by `token`, with the identity of each
    /// revision the state names (`identities`: those not there are left out); false when the fence
    /// failed (another sender leads now) and nothing more was written.
    public func save(
        _ state: RolloutState, identities: [Int: String] = [:], audit: [RolloutEvent] = [], token: UInt64
    ) throws(EtcdError) -> Bool {
        var requests: [EtcdClient.Request] = []
        // The audit: either sender's events, in time order, the oldest dropped past `auditKept`.
        var keys = auditKeys
        for (i, event) in audit.enumerated() {
            let ms = String(Int64(event.time * 1000))
            let key = prefix + "audit/" + String(repeating: "0", count: max(0, 15 - ms.count)) + ms + "-\(author)-\(i)"
            requests.append(.put(key, (try? JSONEncoder().encode(event)).map(Array.init) ?? []))
            keys.append(key)
        }
        let dropped = max(0, keys.count - Self.auditKept)
        for key in keys.prefix(dropped) { requests.append(.delete(key)) }
        keys.removeFirst(dropped)
        let named = state.revisions
        let wanted = identities.filter { named.contains($0.key) }
        for (number, identity) in wanted.sorted(by: { $0.key < $1.key }) where self.identities[number] != identity {
            requests.append(.put(prefix + "revisions/\(number)", Array(identity.utf8)))
        }
        for number in self.identities.keys.sorted() where wanted[number] == nil {
            requests.append(.delete(prefix + "revisions/\(number)"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func json<T: Encodable>(_ value: T) -> [UInt8] { (try? encoder.encode(value)).map(Array.init) ?? [] }
        if state.head != known.head {
            requests.append(
                .put(prefix + "head", json(Head(revision: state.head, by: author, at: Date().timeIntervalSince1970))))
        }
        for (name, group) in state.groups.sorted(by: { $0.key < $1.key }) where known.groups[name] != group {
            requests.append(.put(prefix + "groups/" + name, json(group)))
        }
        for name in known.groups.keys.sorted() where state.groups[name] == nil {
            requests.append(.delete(prefix + "groups/" + name))
        }
        for (uri, host) in state.hosts.sorted(by: { $0.key < $1.key }) where known.hosts[uri] != host {
            requests.append(.put(prefix + "hosts/" + uri, json(host)))
        }
        for uri in known.hosts.keys.sorted() where state.hosts[uri] == nil {
            requests.append(.delete(prefix + "hosts/" + uri))
        }
        var start = 0
        while start < requests.count {
            let part = Array(requests[start..<min(requests.count, start + Self.opsPerTxn)])
            let result = try client.txn([.createRevision(leaderKey, equals: Int64(token))], success: part)
            writes += 1
            guard result.succeeded else { return false }
            start += part.count
        }
        (known, self.identities, auditKeys) = (state, wanted, keys)
        return true
    }
}
