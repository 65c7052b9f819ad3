import Logging
import RunnerSystem

extension PipelineRunner {
    /// At start: the source compared whole with the log's head (what changed while no sender
    /// ran), cut if it differs, and every host brought to where its group is. With
    /// `untilSettled` (`--once`) it waits until every host answered, tries no host twice,
    /// and returns whether every host has its revision.
    @discardableResult
    public func initialSync(control: RunControl, untilSettled: Bool = false) -> Bool {
        if dryRun { return describe(ChangeBatch(paths: [], fullRescan: true), label: "initial sync") }
        // A standby cuts and sends nothing: it does so when it takes over (`--once` waits to).
        if untilSettled, !isActive { waitToLead(control: control) }
        guard isActive else { return false }
        if untilSettled { rollout.stopRetrying() }
        cut(paths: nil, note: "start", firstEvent: nil, control: control)
        if let head = log.head, head.number > rollout.head {
            handle(.cut(revision: head.number, gates: gates(for: head)), control: control)
        } else {
            handle(.tick, control: control)
        }
        guard untilSettled else { return true }
        while rollout.running > 0 || rollout.deadline.map({ $0 <= MonotonicClock.now }) == true,
            !control.isStopRequested
        {
            waitForWork(control: control, until: rollout.deadline)
            serviceWakeups(now: MonotonicClock.now, control: control)
            handle(.tick, control: control)
        }
        return !control.isStopRequested && failing.isEmpty
            && rollout.hosts.indices.allSatisfy { h in
                rollout.hosts[h].applied == rollout.desired(h)
                    && rollout.desired(h) == rollout.groups[rollout.hosts[h].group].head
            }
    }

    /// Cuts a revision if one is due: what the watch saw once the source is quiet (`delay`),
    /// files that settled, unwatched directories scanned, batches the `check` hook held.
    public func flushIfDue(now: Double, control: RunControl) {
        followLeader(now: now, control: control)
        guard isActive else { return }
        if let at = lead?.writeBehindAt, now >= at { _ = saveToEtcd() }
        let earlier = now - coalescer.delay
        for path in openWrites.settled(at: now, info: { FileInfo.lstat(FileSystem.join(sourceRoot, $0)) }) {
            coalescer.add(path, .written, at: earlier)
        }
        if let at = nextScan, now >= at, let watcher {
            for path in watcher.rewatchUnwatched() {
                if path.isEmpty { coalescer.addRescan(at: earlier) } else { coalescer.add(path, .written, at: earlier) }
            }
            nextScan = watcher.unwatched.isEmpty ? nil : now + config.scanInterval
        }
        if let at = retry.due, now >= at { offerHeldAgain(at: earlier) }
        lookAtSource(now: now, control: control)
        if let at = cutAgainAt, now >= at {
            cutAgainAt = nil
            coalescer.addRescan(at: earlier)
        }
        if !dryRun, let due = rollout.deadline, now >= due { handle(.tick, control: control) }
        writeBehind(now: now)
        collectIfDue()
        guard let batch = coalescer.cut(at: now) else { return }
        decided.removeAll(keepingCapacity: true)
        // Nothing to read: the whole comparison when the source is back covers this batch.
        guard !source.missing else { return }
        observer?.batchCut(pipeline: config.name, paths: batch.changes.count)
        if batch.fullRescan { observer?.watchTrouble(pipeline: config.name, kind: "rescan") }
        // The monotonic time lets `make bench` measure event-to-batch latency from outside.
        logger.debug(
            "batch cut",
            metadata: [
                "paths": "\(batch.changes.count)", "full": "\(batch.fullRescan)", "mono": "\(MonotonicClock.now)",
                "quiet": "\(coalescer.quiet)",
            ])
        if dryRun {
            _ = describe(batch, label: "batch")
            return
        }
        process(batch, control: control)
    }

    /// The batches the `check` hook held, back in the next batch under what changed since.
    func offerHeldAgain(at now: Double) {
        let (changes, fullRescan) = retry.take()
        for (path, change) in changes { coalescer.addEarlier(path, change, at: now) }
        if fullRescan { coalescer.addRescan(at: now) }
    }

    /// A batch the watch cut: the `check` hook may hold it; else it becomes the next revision.
    func process(_ batch: ChangeBatch, control: RunControl) {
        guard !batch.changes.isEmpty || batch.fullRescan else { return }
        if let hooks, config.hasCheck {
            do {
                if let reason = try hooks.check(pipeline: config.name, batch: batch) {
                    logger.warning("batch held by check: \(reason)")
                    retry.add(batch, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                    for host in fleet.hosts { runAfter(host.destination, TargetResult(status: .held, message: reason)) }
                    return
                }
            } catch {
                logger.error("batch: check failed: \(error)")
                retry.add(batch, fullRescan: batch.fullRescan, now: MonotonicClock.now)
                return
            }
        }
        retry.succeeded()
        cut(
            paths: batch.fullRescan ? nil : batch.paths, note: batch.fullRescan ? "rescan" : nil,
            firstEvent: batch.firstEvent, control: control)
    }

    /// Cuts the next revision from the source and hands it to the rollout. A cut that fails
    /// (the source directory gone) is tried again, whole, a second later.
    /// What a cut of `paths` (nil: the whole source) reads.
    func cutRequest(paths: [String]?, note: String?) -> CutRequest {
        var request = CutRequest(
            source: sourceRoot, sourceFile: config.sourceFile, paths: paths, filter: filter, note: note)
        request.countFiles = config.massChangeGuard != nil
        return request
    }

    func cut(paths: [String]?, note: String?, firstEvent: Double?, control: RunControl) {
        let result: CutResult
        do { result = try log.cut(cutRequest(paths: paths, note: note)) } catch {
            logger.error("cannot cut a revision: \(error); trying again")
            cutAgainAt = MonotonicClock.now + 1
            return
        }
        for warning in result.warnings { logger.error("\(warning)") }
        for path in result.skipped {
            logger.warning("not a file, directory or symlink: skipped", metadata: ["path": "\(path)"])
        }
        // Changed while read: cut again once they had a moment to settle.
        for path in result.unstable { coalescer.add(path, .written, at: MonotonicClock.now) }
        guard let record = result.record else { return }
        if let firstEvent, !fleet.hosts.isEmpty {
            unpropagated[record.number] = firstEvent
            if unpropagated.count > 256, let oldest = unpropagated.keys.min() { unpropagated[oldest] = nil }
        }
        lastCutAt = MonotonicClock.now
        handle(.cut(revision: record.number, gates: gates(for: record)), control: control)
        // Said once its deliveries are under way: a log line is a write, not on a change's way.
        let shown = record.changed.prefix(5).map { $0.isEmpty ? "." : $0 }.joined(separator: ", ")
        let more = record.changedCount > 5 ? ", …" : ""
        logger.info(
            "revision \(record.number) cut\(note.map { " (\($0))" } ?? ""): \(record.changedCount) path(s): \(shown)\(more)",
            metadata: ["revision": "\(record.number)", "audit": "cut", "author": "\(record.author)"])
        if writeBehindAt == nil { writeBehindAt = MonotonicClock.now + 1 }
        writeBehind(now: MonotonicClock.now)
    }

    /// Has the log write what cuts kept in memory (on its own thread) once no delivery runs,
    /// or a second after the first such cut: a change's way to its hosts shares the machine
    /// with no write of the log (a crash before loses the revision, and hosts that applied
    /// it are compared whole).
    func writeBehind(now: Double) {
        guard let due = writeBehindAt, fleet.running == 0 || now >= due else { return }
        writeBehindAt = nil
        do { try log.writeBehind() } catch { logger.warning("cannot write the last revisions: \(error)") }
    }

    /// When the log's old revisions are collected next: a collection reads every kept
    /// manifest on the loop (milliseconds for a pool directory, seconds for a million files),
    /// so it waits for a second without a cut, unless `keep_revisions` cuts piled up, and
    /// takes at most 2% of the loop's time however often the source changes. Nil when none is due.
    var collectAt: Double? {
        guard let owed = log.collection, fleet.running == 0 else { return nil }
        return max(collectAfter, owed == .overdue ? 0 : lastCutAt + 1)
    }

    /// Collects the log's old revisions, when due and no delivery reads the store.
    func collectIfDue() {
        let start = MonotonicClock.now
        guard let at = collectAt, start >= at else { return }
        var pinned = Set<Int>()
        // What a group may roll out or waits to approve is kept as what it has.
        for g in rollout.groups {
            pinned.formUnion([g.approved, g.released, g.admitted, g.head, g.waiting?.revision ?? 0])
        }
        for h in rollout.hosts { if let a = h.applied { pinned.insert(a) } }
        do {
            let done = try log.collect(pinned: pinned)
            renderer.forget()
            try history?.trim(before: log.numbers().first ?? 0)
            logger.debug(
                "collected \(done.revisions) revision(s), \(done.objects) object(s), \(done.bytes) bytes",
                metadata: ["ms": "\(Int((MonotonicClock.now - start) * 1000))"])
        } catch {
            logger.warning("cannot collect old revisions: \(error)")
        }
        let end = MonotonicClock.now
        collectAfter = end + max(1, 50 * (end - start))
    }
}
