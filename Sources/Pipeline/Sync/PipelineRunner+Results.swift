import FoundationEssentials
import Logging
import RunnerSystem

extension PipelineRunner {
    /// Logs a delivery's result, runs `after`, and says what it means for the rollout.
    func report(_ r: DeliveryResult) -> Rollout.Answer {
        let host = fleet.hosts[r.host]
        let label = r.whole ? "resync to revision \(r.revision)" : "revision \(r.revision)"
        var metadata: Logger.Metadata = ["target": "\(host.uri)", "revision": "\(r.revision)"]
        let wallNow = Date().timeIntervalSince1970
        let wasDown = rollout.hosts[r.host].reachable == false
        host.attempted = true
        host.lastResultAt = wallNow
        let result: TargetResult, answer: Rollout.Answer
        switch r.outcome {
        case .success(let outcome):
            for path in outcome.skipped {
                logger.warning(
                    "not a file, directory or symlink: skipped", metadata: metadata.merging(["path": "\(path)"]) { $1 })
            }
            host.lastSeen = wallNow
            if !outcome.resent.isEmpty {
                logger.notice(
                    "\(label): sent again whole: \(outcome.resent.joined(separator: ", ")) (the delta rebuilt another file at the receiver: its copy changed meanwhile, or a block had the same sums)",
                    metadata: metadata)
            }
            metadata.merge([
                "written": "\(outcome.written)", "deleted": "\(outcome.deleted)", "bytes": "\(outcome.bytes)",
                "ms": "\(Int(r.seconds * 1000))",
            ]) { $1 }
            (result, answer) = applied(outcome, label: label, whole: r.whole, metadata: metadata)
        case .failure(let failure):
            result = TargetResult(status: .failed, message: failure.message)
            if failure.lostSession {
                answer = .unreachable(failure.message)
                if wasDown {
                    logger.debug("\(host.uri) still down: \(failure.message)", metadata: metadata)
                    host.lastResult = result
                    observer?.delivered(r, pipeline: config.name, host: host, as: result)
                    return answer  // `after` heard of it when the host went down
                }
            } else {
                host.lastSeen = wallNow
                answer = .failed(failure.message)
                logger.error("\(label) failed: \(failure.message)", metadata: metadata)
            }
        }
        host.lastResult = result
        observer?.delivered(r, pipeline: config.name, host: host, as: result)
        if result.status != .unchanged || r.whole { runAfter(host.destination, result) }
        return answer
    }

    /// Logs a committed (or rolled back) batch and its actions; the result `after` gets.
    private func applied(_ outcome: SyncOutcome, label: String, whole: Bool, metadata: Logger.Metadata) -> (
        TargetResult, Rollout.Answer
    ) {
        if let why = outcome.rolledBack {
            // The content itself was refused: sending it again changes nothing until the source does.
            logger.error("\(label): rolled back: \(why)", metadata: metadata)
            return (
                TargetResult(status: .rolledBack, message: why, actions: outcome.actions),
                .refused("rolled back: \(why)")
            )
        }
        let changed = outcome.written + outcome.deleted + outcome.updated > 0
        let result = TargetResult(
            status: changed ? .applied : .unchanged, written: outcome.written, deleted: outcome.deleted,
            bytes: outcome.bytes, actions: outcome.actions)
        let failed = outcome.actions.filter(\.failed)
        let text = ([result.status.rawValue] + outcome.actions.filter { $0.outcome == .ok }.map(\.summary)).joined(
            separator: ", ")
        guard failed.isEmpty else {
            let why = failed.map { "\($0.name): \($0.summary)" }.joined(separator: "; ")
            logger.error("\(label): \(text); \(why)", metadata: metadata)
            return (result, .actionFailed(why))
        }
        logger.log(level: changed || whole ? .info : .debug, "\(label): \(text)", metadata: metadata)
        return (result, .applied)
    }

    /// Logs what the rollout decided for a group or a host, and keeps a group's verdicts in
    /// the history.
    func say(_ action: Rollout.Action, now: Double) {
        remember(action)
        switch action {
        case .send: break
        case .approved(let g, let revision):
            logger.info("group \(rollout.groups[g].name): revision \(revision) approved by its canaries")
        case .released(let g, let revision):
            logger.log(
                level: rollout.policy.pause > 0 ? .info : .debug,
                "group \(rollout.groups[g].name): revision \(revision) goes to the rest of the group")
        case .waiting(let g, let revision, let why):
            logger.notice(
                "group \(rollout.groups[g].name): revision \(revision) waits for approval: \(why) (runner approve lets it go)",
                metadata: ["audit": "waiting", "group": "\(rollout.groups[g].name)", "revision": "\(revision)"])
        case .held(let g, let revision, let why):
            logger.error(
                "group \(rollout.groups[g].name): revision \(revision) held: \(why)",
                metadata: ["audit": "held", "group": "\(rollout.groups[g].name)", "revision": "\(revision)"])
        case .halted(let g, let revision, let why):
            logger.error("group \(rollout.groups[g].name): revision \(revision) halted after \(why)")
        case .canaryReplaced(let g, let h, let next):
            let group = rollout.groups[g].name, uri = fleet.hosts[h].uri
            if let next {
                logger.notice("group \(group): canary \(uri) unreachable; \(fleet.hosts[next].uri) takes its place")
            } else {
                logger.warning(
                    "group \(group): canary \(uri) unreachable, and no other host within reach: the group waits")
            }
        case .down(let h, let why):
            let wait = rollout.hosts[h].notBefore.map { MonotonicClock.text(seconds: (($0 - now) * 10).rounded() / 10) }
            logger.error(
                "\(fleet.hosts[h].uri) is down: \(why)\(wait.map { "; retrying in \($0), then with a growing pause" } ?? "")",
                metadata: ["target": "\(fleet.hosts[h].uri)"])
        case .back(let h):
            logger.notice("\(fleet.hosts[h].uri) is back", metadata: ["target": "\(fleet.hosts[h].uri)"])
        }
    }

    private func remember(_ action: Rollout.Action) {
        let event: RolloutEvent
        let time = Date().timeIntervalSince1970
        switch action {
        case .approved(let g, let revision):
            event = RolloutEvent(time: time, kind: .approved, group: rollout.groups[g].name, revision: revision)
        case .held(let g, let revision, let why):
            event = RolloutEvent(time: time, kind: .held, group: rollout.groups[g].name, revision: revision, why: why)
        case .halted(let g, let revision, let why):
            event = RolloutEvent(time: time, kind: .halted, group: rollout.groups[g].name, revision: revision, why: why)
        case .waiting(let g, let revision, let why):
            event = RolloutEvent(
                time: time, kind: .waiting, group: rollout.groups[g].name, revision: revision, why: why)
        default: return
        }
        keep(event)
    }

    /// An event of the rollout's history: kept in the state directory for `runner log`, and
    /// while this sender leads, in etcd's audit with the next write (either sender's record).
    func keep(_ event: RolloutEvent) {
        do { try history?.append(event) } catch { logger.warning("the rollout's history is not kept: \(error)") }
        if let lead, lead.term != nil, rollout.groups.contains(where: { $0.name == event.group }),
            event.group != Self.standbyGroup
        {
            lead.audit.append(event)
        }
    }

    /// Revisions every host has now are measured (from their first event).
    func propagated(now: Double) {
        for (r, start) in unpropagated {
            guard rollout.hosts.allSatisfy({ ($0.applied ?? 0) >= r }) else { continue }
            unpropagated[r] = nil
            observer?.propagated(pipeline: config.name, seconds: now - start)
        }
    }

    func runAfter(_ destination: PipelineConfig.Destination, _ result: TargetResult) {
        guard let hooks, config.hasAfter else { return }
        do {
            try hooks.after(pipeline: config.name, target: destination.uri.description, result: result)
        } catch {
            logger.error("after hook failed: \(error)", metadata: ["target": "\(destination.uri)"])
        }
    }
}
