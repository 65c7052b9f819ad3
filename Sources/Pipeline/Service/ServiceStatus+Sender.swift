import FoundationEssentials
import RunnerSystem

extension ServiceStatus {
    /// A sender's status: every pipeline, group and host as the run loop has them now.
    /// `behindLimit`: seconds a host may stay behind before `/healthz` reports it.
    static func sender(pipelines: [PipelineRunner], version: String, behindLimit: Double) -> ServiceStatus {
        let now = MonotonicClock.now
        var status = ServiceStatus(role: "sender", version: version, at: Date().timeIntervalSince1970)
        for p in pipelines {
            var groups: [Group] = []
            let hosts = p.fleet.hosts
            func host(_ h: DeliveryHost) -> Host {
                Host(
                    uri: h.uri.description, state: state(of: h, now: now), applied: h.applied,
                    pending: h.pending.changes.count, fullResync: h.pending.fullResync, lastSeen: h.lastSeen,
                    lastResult: h.lastResult.map { result($0, at: h.lastResultAt) }, lastError: h.lastError,
                    nextRetry: h.notBefore.map { max(0, $0 - now) }, behindFor: h.behindSince.map { now - $0 })
            }
            var grouped = Set<Int>()
            for name in p.config.destinations.compactMap(\.group) where !groups.contains(where: { $0.name == name }) {
                let members = hosts.indices.filter { hosts[$0].destination.group == name }
                grouped.formUnion(members)
                let rollout = p.groups.first { $0.name == name }
                groups.append(
                    Group(
                        name: name, approved: rollout?.approvedRevision, held: rollout?.banner,
                        hosts: members.map { host(hosts[$0]) }))
            }
            let loose = hosts.indices.filter { !grouped.contains($0) }
            if !loose.isEmpty { groups.append(Group(name: "", hosts: loose.map { host(hosts[$0]) })) }
            status.pipelines.append(
                Pipeline(
                    name: p.config.name, source: p.config.source, revision: p.batchNumber,
                    watches: p.watchCount, groups: groups))
            for g in p.groups {
                if case .halted = g.phase { status.problems.append("group \(g.name) halted: \(g.banner ?? "")") }
            }
            for h in hosts {
                if let since = h.behindSince, now - since > behindLimit {
                    status.problems.append("\(h.uri) behind for \(Int(now - since)) s")
                }
            }
        }
        return status
    }

    private static func state(of h: DeliveryHost, now: Double) -> String {
        if h.busy { return "sending" }
        if h.paused || !(h.render?.held.isEmpty ?? true) { return "held" }
        if h.isCurrent { return "current" }
        if h.reachable == false { return "unreachable" }
        if let at = h.notBefore, at > now { return "backoff" }
        return "behind"
    }

    static func result(_ r: TargetResult, at: Double?) -> Result {
        Result(
            status: r.status.rawValue, at: at, written: r.written, deleted: r.deleted, bytes: r.bytes,
            message: r.message,
            actions: r.actions.map { ActionLine(name: $0.name, outcome: $0.outcome.rawValue, summary: $0.summary) })
    }
}
