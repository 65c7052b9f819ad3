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
        stateChanged()
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
        if stateDue != nil { saveState() }
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
}
