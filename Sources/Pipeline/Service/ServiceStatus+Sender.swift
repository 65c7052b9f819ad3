import FoundationEssentials
import RunnerSystem

extension ServiceStatus {
    /// A sender's status: every pipeline, group and host as its rollout has them now.
    /// `behindLimit`: seconds a host may stay behind before `/healthz` reports it.
    static func sender(pipelines: [PipelineRunner], version: String, behindLimit: Double) -> ServiceStatus {
        let now = MonotonicClock.now
        var status = ServiceStatus(role: "sender", version: version, at: Date().timeIntervalSince1970)
        for p in pipelines {
            let rollout = p.rollout
            var groups: [Group] = []
            for (g, group) in rollout.groups.enumerated() {
                let hosts = group.hosts.map { h in
                    let host = rollout.hosts[h], fleet = p.fleet.hosts[h], desired = rollout.desired(h)
                    return Host(
                        uri: host.uri, state: state(of: h, in: rollout, now: now), applied: host.applied,
                        revision: desired, pending: p.pendingPaths(h), fullResync: host.applied == nil && desired > 0,
                        lastSeen: fleet.lastSeen,
                        lastResult: fleet.lastResult.map { result($0, at: fleet.lastResultAt) },
                        lastError: host.lastError ?? (host.refused == desired ? host.refusal : nil),
                        nextRetry: host.notBefore.map { max(0, $0 - now) },
                        behindFor: fleet.behindSince.map { now - $0 })
                }
                let waiting = p.waitingReason(g, now: now)
                groups.append(
                    Group(
                        name: group.name, approved: group.approved > 0 ? group.approved : nil,
                        candidate: rollout.candidate(of: g),
                        held: group.halted.map { "revision \($0.revision) halted after \($0.why)" }
                            ?? group.held.map { "revision \($0.revision) held: \($0.why)" },
                        waiting: waiting?.why, waitingFor: waiting?.seconds,
                        approval: p.approvalWaiting(g, now: now).map {
                            Approval(revision: $0.revision, why: $0.why, waitingFor: $0.seconds, paths: $0.paths)
                        },
                        hosts: hosts))
                if let halted = group.halted {
                    status.problems.append("group \(group.name) halted at revision \(halted.revision): \(halted.why)")
                } else if let held = group.held {
                    status.problems.append("group \(group.name) holds revision \(held.revision): \(held.why)")
                }
                if let waiting, waiting.seconds > p.config.timeout {
                    status.problems.append(
                        "group \(group.name): revision \(rollout.candidate(of: g) ?? group.admitted) waits for \(Int(waiting.seconds)) s: \(waiting.why)"
                    )
                }
            }
            let notify = p.notifier.map { n in
                let h = n.health
                return Notify(
                    webhook: n.url.description, queued: h.queued, delivered: h.delivered, failures: h.failures,
                    dropped: h.dropped, lastError: h.lastError)
            }
            if let notify, let error = notify.lastError {
                status.problems.append(
                    "notify: \(notify.queued) notification(s) waiting for \(notify.webhook): \(error)")
            }
            let lead = p.lead.map { l in
                let snapshot = l.loop.snapshot
                var leader: String?
                if case .standby(let name) = snapshot.role {
                    leader = name
                } else if l.term != nil {
                    leader = l.settings.name
                }
                return Lead(
                    name: l.settings.name, role: l.term == nil ? "standby" : "leader", leader: leader, term: l.term,
                    validFor: l.term == nil ? nil : max(0, snapshot.validUntil - now), stopped: l.stoppedWhy)
            }
            if let lead, let why = lead.stopped {
                status.problems.append("pipeline \(p.config.name): \(lead.name) does not push: \(why)")
            }
            status.pipelines.append(
                Pipeline(
                    name: p.config.name, source: p.sourceRoot, revision: rollout.head, watches: p.watchCount,
                    groups: groups, notify: notify, lead: lead))
            for host in p.fleet.hosts {
                if let since = host.behindSince, now - since > behindLimit {
                    status.problems.append("\(host.uri) behind for \(Int(now - since)) s")
                }
            }
        }
        return status
    }

    private static func state(of h: Int, in rollout: Rollout, now: Double) -> String {
        let host = rollout.hosts[h], group = rollout.groups[host.group], desired = rollout.desired(h)
        if host.sending != nil { return "sending" }
        if host.reachable == false { return "unreachable" }
        if host.applied == desired && desired > 0 {
            if desired == group.approved { return "current" }
            return desired > group.approved ? "canary" : "behind"
        }
        if host.refused == desired || (group.halted != nil && !rollout.canaries(of: host.group).contains(h)) {
            return "held"
        }
        if let at = host.notBefore, at > now { return "backoff" }
        return rollout.head == 0 ? "current" : "behind"
    }

    static func result(_ r: TargetResult, at: Double?) -> Result {
        Result(
            status: r.status.rawValue, at: at, written: r.written, deleted: r.deleted, bytes: r.bytes,
            message: r.message,
            actions: r.actions.map { ActionLine(name: $0.name, outcome: $0.outcome.rawValue, summary: $0.summary) })
    }
}
