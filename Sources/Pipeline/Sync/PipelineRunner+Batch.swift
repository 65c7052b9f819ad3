import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension PipelineRunner {
    /// Paths that make up a full sync: the whole tree, or the single source file.
    var fullSyncPaths: [String]? { config.sourceFile.map { [$0] } }

    /// Brings every target up to date with the whole source: queued for each host, served
    /// in parallel. With `untilSettled` (`--once`) it waits for every host, gives up on a
    /// host that failed (no retry), sends again, a few times, files that changed while
    /// they were read, and returns whether every host succeeded.
    @discardableResult
    public func initialSync(control: RunControl, untilSettled: Bool = false) -> Bool {
        var ok = process(ChangeBatch(paths: [], fullRescan: true), initial: true, control: control)
        guard untilSettled, !dryRun else { return ok }
        var rounds = 0
        while !fleet.isIdle, !control.isStopRequested {
            waitForWork(control: control)
            for result in fleet.takeResults() {
                ok = handle(result, now: MonotonicClock.now, control: control) && ok
                let host = fleet.hosts[result.host]
                if case .failure = result.outcome { host.pending = PendingChanges() }
                host.notBefore = nil
            }
            if fleet.hosts.contains(where: { !$0.pending.isEmpty }) {
                rounds += 1
                if rounds > 5 { break }
            }
            pump(now: MonotonicClock.now, control: control)
        }
        return ok && fleet.isIdle && !control.isStopRequested
    }

    /// A batch was cut: the `check` hook may hold it; else every host gets it.
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
        let rendered = render(batch, label: label)
        pump(now: MonotonicClock.now, control: control)
        // After the hosts have their work: the file write is not on the batch's path.
        saveState()
        return rendered
    }

    /// Queues a batch for every host, rendering its templates first where the pipeline
    /// renders. A template that will not render for a host (an undefined value) refuses the
    /// batch for that host, and its group is told once: the batch waits, held, for the
    /// fix, and goes with it. Returns false when a batch was refused.
    private func render(_ batch: ChangeBatch, label: String) -> Bool {
        var refused: [String: (hosts: Int, why: String)] = [:]
        for group in groups { stage(batch, in: group, revision: batchNumber, now: MonotonicClock.now) }
        for (index, host) in fleet.hosts.enumerated() where !groups.contains(where: { $0.hosts.contains(index) }) {
            guard let cache = host.render else {
                host.pending.add(batch)
                continue
            }
            let rules = renderRules(for: host)
            let held = cache.held.take()
            do {
                try cache.update(held, source: config.source, filter: filter, rules: rules)
                try cache.update(batch, source: config.source, filter: filter, rules: rules)
                host.pending.add(held)
                host.pending.add(batch)
            } catch {
                cache.held.add(held)
                cache.held.add(batch)
                let group = host.destination.group.map { "group \($0)" } ?? "\(host.uri)"
                refused[group] = ((refused[group]?.hosts ?? 0) + 1, "\(error)")
            }
        }
        for (group, refusal) in refused.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "\(group): \(label) refused for \(refusal.hosts) host(s): \(refusal.why)",
                metadata: ["pipeline": "\(config.name)"])
        }
        return refused.isEmpty
    }

    /// How a host's templates are rendered: `{{ NAME }}` placeholders, or the pipeline's Lua
    /// `render(path, text, vars, target)` (called on this thread).
    func renderRules(for host: DeliveryHost) -> RenderCache.Rules {
        guard config.hasRenderFunction, let hooks else { return RenderCache.Rules(templates: templates, function: nil) }
        let name = config.name, vars = host.destination.vars, target = host.uri.description
        return RenderCache.Rules(templates: templates) { path, text in
            try hooks.render(pipeline: name, path: path, text: text, vars: vars, target: target)
        }
    }

    /// Starts the deliveries that are due, each on a thread of its own.
    func pump(now: Double, control: RunControl) {
        guard !control.isAbandoned else { return }
        let name = config.name, hooks = self.hooks, calls = self.calls
        fleet.dispatch(now: now) { host, _ in
            // The worker's own filter: its Lua predicates run on this thread, through `calls`.
            let filter = self.filter.with(
                evaluate: hooks.map { h in
                    { index, path, isDirectory in
                        try calls.run {
                            try h.ignores(pipeline: name, predicate: index, path: path, isDirectory: isDirectory)
                        }
                    }
                })
            return DeliveryJob(
                target: host.target, filter: filter, source: host.source, fullSyncPaths: fullSyncPaths,
                delete: config.delete, revision: batchNumber, cancelled: { control.isAbandoned })
        }
    }

    /// A wakeup of this pipeline: Lua calls from workers, and delivery results.
    public func serviceWakeups(now: Double, control: RunControl) {
        calls.serve()
        for result in fleet.takeResults() { _ = handle(result, now: now, control: control) }
        pump(now: now, control: control)
    }

    /// At shutdown: waits (at most `timeout` seconds) for the deliveries under way, which
    /// leave their batch uncommitted once a stop is requested; then ends the sessions.
    public func finish(control: RunControl, timeout: Double) {
        let deadline = MonotonicClock.now + timeout
        while fleet.running > 0, MonotonicClock.now < deadline {
            waitForWork(control: control, until: deadline)
            for result in fleet.takeResults() { _ = handle(result, now: MonotonicClock.now, control: control) }
        }
        for (_, target) in targets where fleet.running == 0 { target.disconnect() }
    }

    /// Blocks until a delivery result or a Lua call from a worker is there (serving the
    /// calls), or until `deadline`.
    func waitForWork(control: RunControl, until deadline: Double? = nil) {
        var fds = [
            pollfd(fd: fleet.wakeup.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: calls.wakeup.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: control.readDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let wait = deadline.map { max(0, $0 - MonotonicClock.now) } ?? 1
        _ = poll(&fds, nfds_t(fds.count), Int32(wait * 1000))
        calls.serve()
    }

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
            for path in r.skipped {
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
        defer { saveState() }
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

    /// Remembers the revisions (a failure to is logged, not fatal: the next save may do).
    func saveState() {
        guard !dryRun else { return }
        var state = DeliveryState(revision: batchNumber)
        for host in fleet.hosts { state.applied[host.uri.description] = host.applied }
        for group in groups { state.approved[group.name] = group.approvedRevision }
        do { try state.save(statePath) } catch {
            logger.warning(
                "cannot remember the revisions in \(statePath): \(error)", metadata: ["pipeline": "\(config.name)"])
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
