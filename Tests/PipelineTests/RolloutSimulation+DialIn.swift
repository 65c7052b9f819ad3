import Pipeline
import RunnerSystem

extension Simulation {
    /// Hosts that dial in (`dial://`): drawn from a generator of their own, so that a seed's
    /// other draws stay as they were. Such a host is reachable only while it is connected:
    /// its trouble is its absence, and each time it comes back (and at the start) it dials,
    /// which the machine hears as `.dialed`. The invariants are the same as for any host.
    static func dials(_ seed: UInt64, hosts: [Host]) -> [(at: Double, host: Int)] {
        var r = SplitMix(state: seed ^ 0xD1A1_1A5E_0B5E_55ED)
        var dials: [(at: Double, host: Int)] = []
        for (h, host) in hosts.enumerated() where Double.random(in: 0...1, using: &r) < 0.4 {
            dials.append((Double.random(in: 0...0.5, using: &r), h))
            for phase in host.phases where phase.behaviour == .healthy {
                // It dials a moment after it is back (its backoff's jitter).
                dials.append((phase.from + Double.random(in: 0...1, using: &r), h))
            }
        }
        return dials.sorted { ($0.at, $0.host) < ($1.at, $1.host) }
    }

    /// A host dialed in: the machine serves it now.
    mutating func dialed(_ h: Int) {
        if tracing { log("h\(h) dials in") }
        step(.dialed(host: h))
    }
}
