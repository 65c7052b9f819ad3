/// Which new connection a listener serves, as sshd's `MaxStartups` and
/// `PerSourceMaxStartups` decide (`StartupLimits`, 10:30:100 and 10 by default):
/// connections that have not authenticated yet are few and short (`handshake_timeout` is
/// their whole deadline); past `start` of them a new one is dropped at random, `rate`% at
/// `start` rising to all at `full`; one address holds at most `perAddress`; authenticated sessions are counted apart, up to `max_connections`, so a
/// flood that never authenticates leaves them their room. A value given the counts and a
/// draw, so that it is tested in-process.
struct StartupGate: Sendable, Equatable {
    /// Why a connection was turned away.
    enum Refusal: String, Sendable, CaseIterable {
        /// `max_connections` sessions are running.
        case busy = "at max_connections"
        /// Too many connections are waiting to authenticate: dropped at random.
        case startups = "too many unauthenticated connections"
        /// Its address has `perAddress` connections waiting to authenticate.
        case perAddress = "too many unauthenticated connections from its address"
    }

    var limits = StartupLimits()
    var maxConnections: Int

    /// Whether to serve a new connection: `nil` to serve it, else why not. `draw` is uniform
    /// in 0..<1.
    func admit(unauthenticated: Int, fromAddress: Int, authenticated: Int, draw: Double) -> Refusal? {
        let (start, full, rate) = (limits.start, limits.full, Double(limits.rate) / 100)
        if authenticated + unauthenticated >= maxConnections + full { return .busy }
        if authenticated >= maxConnections { return .busy }
        if fromAddress >= limits.perAddress { return .perAddress }
        if unauthenticated >= full { return .startups }
        if unauthenticated >= start {
            let p = rate + (1 - rate) * Double(unauthenticated - start) / Double(max(1, full - start))
            if draw < p { return .startups }
        }
        return nil
    }
}
