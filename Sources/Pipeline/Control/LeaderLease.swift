import RunnerSystem

/// One sender's claim to lead a pipeline in etcd: the key `/runner/<pipeline>/leader`, made
/// by a txn only while absent (`create_revision == 0`), under a lease of `ttl` seconds. The
/// sender whose txn made it leads, with the key's create_revision as its fencing token
/// (it only grows, unlike the raft term); the others stand by and watch the key. Calls
/// block up to the client's timeout: a caller runs them off its loop.
public final class LeaderLease {
    /// What a sender is.
    public enum Role: Sendable, Equatable {
        /// It leads, with this token; pushing is for `clock.mayPush`.
        case leader(token: UInt64)
        /// Another leads (its name), or nobody yet (nil).
        case standby(leader: String?)
    }

    public let client: EtcdClient
    public let key: String
    public let name: String
    public private(set) var clock: LeaseClock
    public private(set) var role: Role = .standby(leader: nil)
    /// The store's revision when a campaign last found the key held: a standby watches the
    /// key from the next one, and campaigns again the moment it goes.
    public private(set) var heldAt: Int64 = 0
    private var lease: Int64?

    /// The claim of `name` on `pipeline`'s leader key, with a lease of `ttl` seconds.
    public init(client: EtcdClient, pipeline: String, name: String, ttl: Int) {
        self.client = client
        key = "/runner/\(pipeline)/leader"
        self.name = name
        clock = LeaseClock(ttl: Double(ttl))
    }

    /// Tries to lead: a fresh lease, then the key made under it if nobody holds it. A
    /// standby's lease is revoked at once (it holds nothing).
    @discardableResult
    public func campaign() throws(EtcdError) -> Role {
        if case .leader = role { return role }
        let sent = MonotonicClock.now
        let granted = try client.grantLease(ttl: Int(clock.ttl))
        let result: EtcdClient.TxnResult
        do {
            result = try client.txn(
                [.createRevision(key, equals: 0)], success: [.put(key, Array(name.utf8), lease: granted.id)],
                failure: [.range(key)])
        } catch {
            try? client.revoke(granted.id)
            throw error
        }
        guard result.succeeded else {
            try? client.revoke(granted.id)
            let holder = result.ranges.first?.first.map { String(decoding: $0.value, as: UTF8.self) }
            role = .standby(leader: holder)
            heldAt = result.revision
            return role
        }
        lease = granted.id
        clock.renewed(sentAt: sent, granted: Double(granted.ttl))
        role = .leader(token: UInt64(result.revision))
        return role
    }

    /// Renews the lease once (a leader's, when due); a lease etcd says is gone makes this a
    /// standby. A renewal that fails or hangs changes nothing: `clock` runs out by itself.
    public func renew() throws(EtcdError) {
        guard case .leader = role, let lease else { return }
        let sent = MonotonicClock.now
        if let granted = try client.keepAlive(lease) {
            clock.renewed(sentAt: sent, granted: Double(granted))
        } else {
            clock.lost()
            self.lease = nil
            role = .standby(leader: nil)
        }
    }

    /// Whether this sender may push now: it leads, and its lease has not run out.
    public func mayPush(at now: Double = MonotonicClock.now) -> Bool {
        guard case .leader = role else { return false }
        return clock.mayPush(at: now)
    }

    /// Gives the lead up (the key goes with the lease): a stopping leader lets the standby
    /// take over at once instead of after the TTL.
    public func resign() {
        if let lease { try? client.revoke(lease) }
        lease = nil
        clock.lost()
        role = .standby(leader: nil)
    }
}
