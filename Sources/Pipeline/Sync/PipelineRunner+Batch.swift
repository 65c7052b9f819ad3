import Logging
import RunnerSystem

extension PipelineRunner {
    /// Paths that make up a full sync: the whole tree, or the single source file.
    var fullSyncPaths: [String]? { config.sourceFile.map { [$0] } }

    /// Processes a batch on every target; returns false when one failed.
    func process(_ batch: ChangeBatch, initial: Bool, control: RunControl) -> Bool {
        if !initial { batchNumber += 1 }
        let label = initial ? "initial sync" : "batch \(batchNumber)"
        if dryRun { return describe(batch, label: label) }
        if batch.changes.isEmpty && !batch.fullRescan { return true }

        if let hooks, config.hasCheck, !initial {
            do {
                if let reason = try hooks.check(pipeline: config.name, batch: batch) {
                    logger.warning("\(label) held by check: \(reason)", metadata: ["pipeline": "\(config.name)"])
                    retry.add(batch, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                    for (d, _) in targets { runAfter(d, TargetResult(status: .held, message: reason)) }
                    return true
                }
            } catch {
                logger.error("\(label): check failed: \(error)", metadata: ["pipeline": "\(config.name)"])
                retry.add(batch, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                return false
            }
        }

        var ok = true
        for (destination, target) in targets {
            let result = deliver(batch, to: target, label: label, initial: initial, control: control)
            if result.status == .failed || result.status == .rolledBack || result.actions.contains(where: \.failed) {
                ok = false
            }
            if result.status != .unchanged || initial { runAfter(destination, result) }
            if control.isStopRequested { break }
        }
        return ok
    }

    /// Plans and applies one batch on one target; logs the result.
    private func deliver(
        _ batch: ChangeBatch, to target: any SyncTarget, label: String, initial: Bool,
        control: RunControl
    ) -> TargetResult {
        let started = MonotonicClock.now
        do {
            let plan = try target.plan(
                paths: batch.fullRescan ? fullSyncPaths : batch.paths, source: config.source, filter: filter,
                delete: config.delete)
            for path in plan.skipped {
                logger.warning(
                    "not a file, directory or symlink: skipped",
                    metadata: ["pipeline": "\(config.name)", "path": "\(path)"])
            }
            let outcome = try target.apply(plan, from: config.source, cancelled: { control.isStopRequested })
            if !outcome.retry.isEmpty {
                retry.add(batch, only: outcome.retry, fullRescan: false, now: MonotonicClock.now)
            }
            if !outcome.resent.isEmpty {
                let paths = outcome.resent.joined(separator: ", ")
                logger.notice(
                    "\(label): sent again whole: \(paths) (the delta rebuilt another file at the receiver: its copy changed meanwhile, or a block had the same sums)",
                    metadata: ["pipeline": "\(config.name)", "target": "\(target.uri)"])
            }
            let changed = outcome.written + outcome.deleted + outcome.updated > 0
            let metadata: Logger.Metadata = [
                "pipeline": "\(config.name)", "target": "\(target.uri)", "written": "\(outcome.written)",
                "deleted": "\(outcome.deleted)", "bytes": "\(outcome.bytes)",
                "ms": "\(Int((MonotonicClock.now - started) * 1000))",
            ]
            if let why = outcome.rolledBack {
                // The content itself was refused: sending it again changes nothing until the source does.
                logger.error("\(label): rolled back: \(why)", metadata: metadata)
                return TargetResult(status: .rolledBack, message: why, actions: outcome.actions)
            }
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
        } catch {
            logger.error(
                "\(label) failed: \(error)", metadata: ["pipeline": "\(config.name)", "target": "\(target.uri)"])
            // After a lost session the next batch is a full resync (quick check, deltas for
            // what differs): the receiver may have lost more than this batch.
            if !control.isStopRequested {
                retry.add(
                    batch, fullRescan: batch.fullRescan || initial || target.resyncsAfterFailure,
                    now: MonotonicClock.now)
            }
            return TargetResult(status: .failed, message: "\(error)")
        }
    }

    private func runAfter(_ destination: PipelineConfig.Destination, _ result: TargetResult) {
        guard let hooks, config.hasAfter else { return }
        do {
            try hooks.after(pipeline: config.name, target: destination.uri.description, result: result)
        } catch {
            logger.error(
                "after hook failed: \(error)", metadata: ["pipeline": "\(config.name)", "target": "\(destination.uri)"])
        }
    }
}
