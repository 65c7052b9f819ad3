import FoundationEssentials
import Logging
import RunnerSystem

extension PipelineRunner {
    /// Logs a delivery's result, runs `after`, and schedules what the host still needs;
    /// returns false when it failed.
    func handle(_ r: DeliveryResult, now: Double, control: RunControl) -> Bool {
        let host = fleet.hosts[r.host]
        let initial = r.revision == 0
        let label =
            initial ? "initial sync" : r.batch.fullRescan ? "resync to batch \(r.revision)" : "batch \(r.revision)"
        var metadata: Logger.Metadata = [
            "pipeline": "\(config.name)", "target": "\(host.uri)", "batch": "\(r.revision)",
        ]
        let wallNow = Date().timeIntervalSince1970
        host.attempted = true
        host.lastResultAt = wallNow
        let result: TargetResult
        switch r.outcome {
        case .success(let outcome):
            for path in outcome.skipped {
                logger.warning(
                    "not a file, directory or symlink: skipped", metadata: metadata.merging(["path": "\(path)"]) { $1 })
            }
            if host.reachable == false { logger.notice("\(host.uri) is back", metadata: metadata) }
            host.reachable = true
            host.lastSeen = wallNow
            host.lastError = nil
            host.backoff.succeeded()
            host.applied = max(host.applied, r.revision)
            if !outcome.retry.isEmpty {
                // Changed while it was read: sent again once it had a moment to settle.
                host.pending.add(ChangeBatch(paths: outcome.retry))
                host.notBefore = now + 1
            }
            if !outcome.resent.isEmpty {
                let paths = outcome.resent.joined(separator: ", ")
                logger.notice(
                    "\(label): sent again whole: \(paths) (the delta rebuilt another file at the receiver: its copy changed meanwhile, or a block had the same sums)",
                    metadata: metadata)
            }
            metadata.merge([
                "written": "\(outcome.written)", "deleted": "\(outcome.deleted)", "bytes": "\(outcome.bytes)",
                "ms": "\(Int(r.seconds * 1000))",
            ]) { $1 }
            result = report(outcome, label: label, initial: initial, metadata: metadata)
        case .failure(let failure):
            host.pending.add(r.batch)
            // After a lost session the next batch is a full resync (quick check, deltas for
            // what differs): the receiver may have lost more than this batch.
            if failure.lostSession, host.target.resyncsAfterFailure { host.pending.needFullResync() }
            let wait = host.backoff.failed()
            host.notBefore = now + wait
            let wasDown = host.reachable == false
            if failure.lostSession { host.reachable = false } else { host.lastSeen = wallNow }
            host.lastError = failure.message
            result = TargetResult(status: .failed, message: failure.message)
            if !failure.lostSession {
                logger.error("\(label) failed: \(failure.message)", metadata: metadata)
            } else if !wasDown {
                // Going down is said once; the retries that follow are quiet until it is back.
                let pause = MonotonicClock.text(seconds: (wait * 10).rounded() / 10)
                logger.error(
                    "\(host.uri) is down: \(failure.message); retrying in \(pause), then with a growing pause",
                    metadata: metadata)
            } else {
                logger.debug("\(host.uri) still down: \(failure.message)", metadata: metadata)
                host.lastResult = result
                observer?.delivered(r, pipeline: config.name, host: host, as: result)
                return false  // `after` heard of it when the host went down
            }
        }
        host.lastResult = result
        if result.status == .rolledBack { host.lastError = result.message }
        observer?.delivered(r, pipeline: config.name, host: host, as: result)
        if case .success = r.outcome { propagated(r.revision, to: r.host, now: now) }
        defer { stateChanged() }
        if !groups.isEmpty {
            let lost: Bool = { if case .failure(let f) = r.outcome { return f.lostSession } else { return false } }()
            let ok =
                (result.status == .applied || result.status == .unchanged) && !result.actions.contains(where: \.failed)
            let why =
                result.status == .rolledBack
                ? "rolled back: \(result.message ?? "")"
                : result.actions.first(where: \.failed).map { "\($0.name): \($0.summary)" }
                    ?? "failed: \(result.message ?? "")"
            rolloutResult(r.host, ok: ok, lostSession: lost, why: why, now: now)
        }
        if result.status != .unchanged || initial { runAfter(host.destination, result) }
        return result.status != .failed && result.status != .rolledBack && !result.actions.contains(where: \.failed)
    }

    /// Logs an applied batch and its actions; the result `after` gets.
    private func report(_ outcome: SyncOutcome, label: String, initial: Bool, metadata: Logger.Metadata) -> TargetResult
    {
        if let why = outcome.rolledBack {
            // The content itself was refused: sending it again changes nothing until the source does.
            logger.error("\(label): rolled back: \(why)", metadata: metadata)
            return TargetResult(status: .rolledBack, message: why, actions: outcome.actions)
        }
        let changed = outcome.written + outcome.deleted + outcome.updated > 0
        let result = TargetResult(
            status: changed ? .applied : .unchanged, written: outcome.written, deleted: outcome.deleted,
            bytes: outcome.bytes, actions: outcome.actions)
        let failed = outcome.actions.filter(\.failed)
        let text = ([result.status.rawValue] + outcome.actions.filter { $0.outcome == .ok }.map(\.summary)).joined(
            separator: ", ")
        if failed.isEmpty {
            logger.log(level: changed || initial ? .info : .debug, "\(label): \(text)", metadata: metadata)
        } else {
            logger.error(
                "\(label): \(text); \(failed.map { "\($0.name): \($0.summary)" }.joined(separator: "; "))",
                metadata: metadata)
        }
        return result
    }

    /// A host applied everything up to `revision`: revisions it completes are measured.
    private func propagated(_ revision: Int, to host: Int, now: Double) {
        for (r, entry) in unpropagated where r <= revision {
            var waiting = entry.waiting
            waiting.remove(host)
            if waiting.isEmpty {
                unpropagated[r] = nil
                observer?.propagated(pipeline: config.name, seconds: now - entry.start)
            } else {
                unpropagated[r] = (entry.start, waiting)
            }
        }
    }

    /// The revisions changed: they are written within half a second, with whatever else
    /// changes meanwhile, not per batch. A write is a JSON encode and a rename over the old
    /// file, which on ext4 starts writeback of the new one: twice per batch, that took half
    /// the sender's CPU and competed with the batch for it. A state lost to a crash in that
    /// half second costs a resync, which sends only what differs.
    func stateChanged() {
        if stateDue == nil { stateDue = MonotonicClock.now + 0.5 }
    }

    /// Remembers the revisions now (a failure to is logged, not fatal: the next save may do).
    func saveState() {
        stateDue = nil
        guard !dryRun else { return }
        var state = DeliveryState(revision: batchNumber)
        for host in fleet.hosts { state.applied[host.uri.description] = host.applied }
        for group in groups { state.approved[group.name] = group.approvedRevision }
        do { try state.save(statePath) } catch {
            logger.warning(
                "cannot remember the revisions in \(statePath): \(error)", metadata: ["pipeline": "\(config.name)"])
        }
    }

    func runAfter(_ destination: PipelineConfig.Destination, _ result: TargetResult) {
        guard let hooks, config.hasAfter else { return }
        do {
            try hooks.after(pipeline: config.name, target: destination.uri.description, result: result)
        } catch {
            logger.error(
                "after hook failed: \(error)", metadata: ["pipeline": "\(config.name)", "target": "\(destination.uri)"])
        }
    }
}
