/// When a leader may push, given the time: its lease is counted from when each renewal was
/// *sent* (etcd starts the TTL when it receives it, which is later), less a margin, and only
/// an answer moves it forward. A renewal that hangs (etcd without quorum answers nothing)
/// or fails leaves the leader pushing until the last answered renewal's time runs out, then
/// never again until a renewal is answered: it stops before etcd could have let the lease
/// go, never after.
public struct LeaseClock: Sendable, Equatable {
    /// The lease's TTL, seconds.
    public let ttl: Double
    /// Seconds before the end of the lease when pushing stops.
    public let margin: Double
    /// Pushing may go on until then.
    public private(set) var validUntil: Double
    /// When the last renewal that was answered was sent.
    public private(set) var lastSent: Double?

    /// A clock for a lease of `ttl` seconds, not yet granted.
    public init(ttl: Double) {
        self.ttl = ttl
        margin = max(0.5, ttl / 10)
        validUntil = -.infinity
    }

    /// The lease was granted, or a renewal sent at `sentAt` was answered with `granted`
    /// seconds: it holds until `sentAt + granted - margin`.
    public mutating func renewed(sentAt: Double, granted: Double) {
        guard lastSent.map({ sentAt >= $0 }) ?? true else { return }  // an older answer says nothing new
        lastSent = sentAt
        validUntil = sentAt + granted - margin
    }

    /// etcd said the lease is gone.
    public mutating func lost() { validUntil = -.infinity }

    /// Whether pushing may go on at `now`.
    public func mayPush(at now: Double) -> Bool { now < validUntil }

    /// When the next renewal should be sent: three times per TTL, from the last one sent.
    public func nextRenewal() -> Double { (lastSent ?? -.infinity) + ttl / 3 }
}
