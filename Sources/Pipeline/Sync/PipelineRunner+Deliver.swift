import FoundationEssentials
import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension PipelineRunner {
    /// Feeds the rollout one event and carries out what it decides.
    func handle(_ event: Rollout.Event, control: RunControl) { handle([event], control: control) }

    /// Feeds the rollout events in order and carries out what each decides: its state is
    /// remembered first, then the deliveries start. A template that will not render for a
    /// host is that host's answer at once. Answers that start nothing are remembered
    /// together, once (a fleet's answers arrive together: remembering each alone cost
    /// time in the square of the fleet's size).
    func handle(_ events: [Rollout.Event], control: RunControl) {
        var events = events, next = 0
        var decided: [Rollout.Action] = []
        // The hosts whose answers started nothing since the state was last saved: only they
        // (and the groups) can have changed since (`Rollout.answered`).
        var unsaved: [Int] = []
        defer {
            if !unsaved.isEmpty { saveState(behind: true, onlyHosts: unsaved) }
            notifyOutcomes(decided)
        }
        while next < events.count {
            let now = MonotonicClock.now
            let event = events[next]
            next += 1
            let actions = rollout.handle(event, now: now)
            decided += actions
            // The state is in etcd before any push of a term (else the push waits: retried);
            // a host's answer that starts nothing goes there a moment later, with the others
            // of that moment (lost with a dying leader, it costs that host one comparison).
            let sent = actions.compactMap { if case .send(let h, _, _) = $0 { h } else { nil } }
            if case .answered(let host, _) = event, sent.isEmpty {
                unsaved.append(host)
                actions.forEach { say($0, now: now) }
                continue
            }
            // A host's answer or dial changes that host, and those it starts deliveries to
            // (`Rollout.dispatch`): saving them alone keeps a fleet's answers from costing
            // each the whole fleet (a window of deliveries starts one per answer).
            var changed: [Int]?
            switch event {
            case .answered(let host, _), .dialed(let host): changed = unsaved + [host] + sent
            default: changed = nil
            }
            unsaved = []
            let mayPush = saveState(onlyHosts: changed) && (lead?.mayPush ?? true)
            for action in actions {
                if case .send(let h, let revision, let from) = action {
                    if let answer = mayPush
                        ? start(h, revision, from: from, control: control)
                        : .failed("not sent: \(lead?.saveError.map { "etcd: \($0)" } ?? "this sender does not lead")")
                    {
                        failing.insert(h)
                        events.append(.answered(host: h, answer))
                    }
                } else {
                    say(action, now: now)
                }
            }
        }
    }

    /// Starts bringing host `h` from `from` to `revision`: the manifests' difference, planned
    /// against what the host has (the whole tree when what it has is unknown, or a revision
    /// the log no longer keeps). Returns the host's answer when it cannot start: a template
    /// that will not render refuses the revision; a log that cannot be read fails it.
    private func start(_ h: Int, _ revision: Int, from: Int?, control: RunControl) -> Rollout.Answer? {
        let host = fleet.hosts[h]
        let paths: [String]?, moves: [String: String], tree: RevisionTree
        do {
            guard let to = log.record(revision), let raw = log.tree(to) else {
                throw SystemError("read (revision \(revision) is gone from the log)", path: log.directory, code: nil)
            }
            if let from, let record = log.record(from) {
                let diff = try log.diff(from: record, to: to)
                (paths, moves) = (diff.paths, diff.moves)
            } else {
                (paths, moves) = (nil, [:])
            }
            // A single-file source's whole tree is that file; a standby's source is the source
            // as it is.
            let overlay =
                host.destination.group == Self.standbyGroup
                ? [:]
                : try renderer.overlay(
                    raw, paths: paths ?? config.sourceFile.map { [$0] }, for: host.destination, store: log.store)
            tree = overlay.isEmpty ? raw : log.tree(to, overlay: overlay)!
        } catch let refusal as Renderer.Refusal {
            let group = host.destination.group.map { "group \($0): " } ?? ""
            logger.error(
                "\(group)revision \(revision) refused for \(host.uri): \(refusal)", metadata: ["target": "\(host.uri)"])
            return .refused("refused: \(refusal)")
        } catch {
            logger.error("revision \(revision) for \(host.uri): \(error)", metadata: ["target": "\(host.uri)"])
            return .failed("\(error)")
        }
        let g = rollout.hosts[h].group
        if rollout.hosts[h].sending?.asCanary == true {
            logger.info("group \(rollout.groups[g].name): revision \(revision) to canary \(host.uri) first")
        }
        logger.debug(
            "revision \(revision) to \(host.uri)",
            metadata: [
                "from": "\(from.map(String.init) ?? "unknown")", "paths": "\(paths.map { "\($0.count)" } ?? "all")",
            ])
        let name = config.name, hooks = self.hooks, calls = self.calls
        // The worker's own filter: its Lua predicates run on this thread, through `calls`.
        let workerFilter = filter.with(
            evaluate: hooks.map { h in
                { index, path, isDirectory in
                    try calls.run {
                        try h.ignores(pipeline: name, predicate: index, path: path, isDirectory: isDirectory)
                    }
                }
            })
        fleet.start(
            h,
            DeliveryJob(
                target: host.target, filter: workerFilter, tree: tree,
                paths: paths ?? config.sourceFile.map { [$0] }, moves: moves, whole: paths == nil,
                delete: config.delete || host.destination.group == Self.standbyGroup, revision: revision,
                term: lead?.term ?? 0,
                cancelled: { [abandoned, loop = lead?.loop] in
                    // Nothing commits once this sender's lease may have run out.
                    control.isAbandoned || abandoned.isCancelled || loop?.mayPush() == false
                }))
        return nil
    }

    /// A reload that failed: the pipeline goes on as it was.
    public func resume(control: RunControl) { handle(.resume, control: control) }

    /// Results of deliveries, and Lua calls from workers.
    public func serviceWakeups(now: Double, control: RunControl) {
        calls.serve()
        lead?.loop.wakeup.drain()
        followLeader(now: now, control: control)
        serveOperators(control: control)
        serveEtcdOperators(control: control)
        sourceParentWoke(now: now)
        if let dialIn { dialedIn(dialIn.board.arrivals(pipeline: config.name), control: control) }
        var answers: [Rollout.Event] = []
        var applied = false
        for result in takeResults() {
            let answer = report(result)
            if answer == .applied { failing.remove(result.host) } else { failing.insert(result.host) }
            answers.append(.answered(host: result.host, answer))
            applied = applied || answer == .applied
        }
        if !answers.isEmpty { handle(answers, control: control) }
        if applied, !unpropagated.isEmpty { propagated(now: MonotonicClock.now) }
        if !answers.isEmpty { settleDialedOnce() }
        writeBehind(now: now)
        collectIfDue()
    }

    /// The results that came back in this term (those of a term that ended were abandoned:
    /// the rollout that sent them is gone).
    func takeResults() -> [DeliveryResult] {
        fleet.takeResults().filter { $0.term == (lead?.term ?? 0) }
    }

    /// Remembers the rollout's state (a failure to is logged: the next save may do), and
    /// while this sender leads, writes it to etcd (`behind`: within a quarter second, with
    /// what else changes by then): false when that failed.
    @discardableResult
    func saveState(behind: Bool = false, onlyHosts: [Int]? = nil) -> Bool {
        if let journal {
            do {
                if let onlyHosts {
                    try journal.save(changedHosts: rollout.state(ofHosts: onlyHosts))
                } else {
                    try journal.save(rollout.state)
                }
            } catch {
                logger.warning("cannot remember the rollout in \(journal.journalPath): \(error)")
            }
        }
        if behind, let lead, lead.term != nil {
            if lead.writeBehindAt == nil { lead.writeBehindAt = MonotonicClock.now + 0.25 }
            return true
        }
        return saveToEtcd()
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
        _ = poll(&fds, nfds_t(fds.count), Int32(min(wait, 1) * 1000))
        calls.serve()
    }

    /// At shutdown, or before a reload: starts no delivery, waits (at most `timeout` seconds)
    /// for those under way, and remembers where every host is; past `timeout` what is still
    /// under way is abandoned before its commit. Then ends the sessions.
    public func finish(control: RunControl, timeout: Double) {
        let deadline = MonotonicClock.now + timeout
        defer { if fleet.running > 0 { abandoned.cancel() } }
        handle(.quiesce, control: control)
        while fleet.running > 0, MonotonicClock.now < deadline {
            waitForWork(control: control, until: deadline)
            handle(takeResults().map { .answered(host: $0.host, report($0)) }, control: control)
        }
        if fleet.running == 0 { disconnect() }
        do { try log.flush() } catch { logger.warning("cannot write the last revisions: \(error)") }
        saveState()
        if let journal { try? journal.compact(rollout.state) }
    }
}
