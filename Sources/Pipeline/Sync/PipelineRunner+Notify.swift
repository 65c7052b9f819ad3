import Logging
import RunnerSystem

extension PipelineRunner {
    /// Tells `notify` and `on_group` what revisions came to, once per group per revision:
    /// held at the canary or waiting for approval as the rollout says so; applied or failed
    /// once each host of the group has answered for the revision its group released (a host
    /// that is down counts as unreachable: nobody waits for it).
    func notifyOutcomes(_ actions: [Rollout.Action]) {
        guard notifier != nil || config.hasOnGroup else { return }
        for action in actions {
            switch action {
            case .held(let g, let revision, let why): tell(g, revision, .held, why: why)
            case .waiting(let g, let revision, let why): tell(g, revision, .waiting, why: why)
            default: break
            }
        }
        for g in rollout.groups.indices {
            let group = rollout.groups[g], revision = group.released
            guard revision > (notified[g] ?? 0) else { continue }
            var all = true
            for h in group.hosts {
                let host = rollout.hosts[h]
                let answered =
                    host.sending?.revision != revision
                    && (host.applied == revision || host.refused == revision || host.reachable == false
                        || (host.sending == nil && host.failures > 0) || host.givenUp)
                guard answered else { all = false; break }
            }
            guard all else { continue }
            notified[g] = revision
            let applied = group.hosts.allSatisfy { rollout.hosts[$0].applied == revision }
            tell(g, revision, applied ? .applied : .failed, why: group.halted?.why)
        }
    }

    private func tell(_ g: Int, _ revision: Int, _ event: NotifySettings.Event, why: String?) {
        // Hosts a pipeline names directly are the group ""; the standbys' sources are no one's.
        let group = rollout.groups[g]
        guard group.name != Self.standbyGroup else { return }
        let record = log.record(revision)
        let outcome = GroupOutcome(
            pipeline: config.name, group: group.name, revision: revision, event: event.rawValue, why: why,
            author: record?.author ?? "", cut: record?.time ?? 0, paths: record?.changed ?? [],
            changed: record?.changedCount ?? 0, hosts: group.hosts.map { line($0, revision, event) })
        if let notifier, config.notify?.on.contains(event) == true { notifier.send(outcome) }
        guard let hooks, config.hasOnGroup else { return }
        do { try hooks.onGroup(pipeline: config.name, outcome: outcome) } catch {
            logger.error("on_group hook failed: \(error)", metadata: ["group": "\(group.name)"])
        }
    }

    /// One host's part in `revision`: what it answered, and its actions' last lines.
    private func line(_ h: Int, _ revision: Int, _ event: NotifySettings.Event) -> GroupOutcome.HostLine {
        let host = rollout.hosts[h], result = fleet.hosts[h].lastResult
        let state: String
        if host.applied == revision {
            state = "applied"
        } else if host.refused == revision {
            state = "refused"
        } else if host.reachable == false {
            state = "unreachable"
        } else if event == .held || event == .waiting || host.failures == 0 {
            state = "not sent"
        } else {
            state = "failed"
        }
        let actions = (result?.actions ?? []).flatMap { a in
            ["\(a.name): \(a.summary)"] + a.output.split(separator: "\n").suffix(5).map(String.init)
        }
        let message =
            state == "applied" || state == "not sent" ? nil : host.refusal ?? host.lastError ?? result?.message
        return GroupOutcome.HostLine(
            host: host.uri, state: state, message: message, actions: state == "not sent" ? [] : actions)
    }
}
