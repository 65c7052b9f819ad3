import RunnerSystem

/// Two senders: the leader is deposed (its lease ran out, so it stopped pushing first) and the
/// standby takes over from the state the leader kept in etcd. Unlike a restart, the deposed
/// leader's deliveries under way still land; a host commits one only until the new leader's
/// first hello there raises its fence, after which it refuses it. The invariants are the
/// simulation's own: the new leader believes of each host what the host has, and sends no
/// host a revision it has.
extension Simulation {
    /// When the standby takes over: up to two times, from a generator of their own, so that the
    /// schedules drawn from a seed are otherwise what they were.
    static func takeovers(_ seed: UInt64) -> [Double] {
        var r = SplitMix(state: seed ^ 0x7A4E_1EAD_E12C_0FFE)
        return (0..<Int.random(in: 0...2, using: &r)).map { _ in Double.random(in: 1...28, using: &r) }.sorted()
    }

    mutating func takeover() {
        if tracing { log("the leader is deposed; the standby takes over") }
        term += 1
        adoptRememberedState()
    }

    /// A deposed leader's delivery lands: committed unless a newer leader said hello there
    /// first (the host's fence); its answer reaches nobody.
    mutating func land(orphan flight: Flight) {
        let fenced = (fence[flight.host] ?? 0) > flight.term
        if flight.commits && !fenced { hosts[flight.host].actual = flight.revision }
        if tracing {
            log(
                "h\(flight.host) gets the deposed leader's revision \(flight.revision): \(fenced ? "fenced" : "committed")"
            )
        }
    }
}
