import Logging
import RunnerSystem

extension PipelineRunner {
    /// A cut batch for a group with a staged roll-out: it joins the group's next revision.
    func stage(_ batch: ChangeBatch, in group: GroupRollout, revision: Int, now: Double) {
        group.incoming.add(batch)
        advance(group, revision: revision, now: now)
    }

    /// Starts the group's next revision if none is under way: the source's changes are
    /// frozen into the candidate snapshot and go to the canaries (or, with none, straight
    /// to approval).
    func advance(_ group: GroupRollout, revision: Int, now: Double) {
        guard !group.isBusy, !group.incoming.isEmpty else { return }
        let changes = group.incoming.take()
        do {
            try mirror(changes, from: SourceTree(root: config.source), into: group.candidate)
        } catch {
            logger.error(
                "group \(group.name): cannot keep revision \(revision): \(error)",
                metadata: ["pipeline": "\(config.name)"])
            group.incoming.add(changes)
            return
        }
        let canaries = Array(group.hosts.filter { fleet.hosts[$0].reachable != false }.prefix(group.rollout.canaries))
        guard !canaries.isEmpty else {
            return approve(group, revision: revision, changes: changes, canaries: [], now: now)
        }
        for c in canaries { assign(changes, to: c, from: group.candidate, group: group) }
        group.phase = .canary(revision: revision, changes: changes, canaries: canaries, waiting: Set(canaries))
        logger.info(
            "group \(group.name): batch \(revision) to canary \(canaries.map { "\(fleet.hosts[$0].uri)" }.joined(separator: ", ")) first",
            metadata: ["pipeline": "\(config.name)"])
    }

    /// Gives a host a revision's changes, sent from `directory` (a snapshot of the group).
    private func assign(_ changes: ChangeBatch, to index: Int, from directory: String, group: GroupRollout) {
        let host = fleet.hosts[index]
        host.source = SourceTree(root: directory, overlay: host.render?.directory)
        host.paused = false
        do {
            try host.render?.update(changes, source: directory, filter: filter, rules: renderRules(for: host))
            host.pending.add(changes)
        } catch {
            logger.error("group \(group.name): \(host.uri) refused: \(error)", metadata: ["pipeline": "\(config.name)"])
            host.render?.held.add(changes)
        }
    }

    /// The canaries applied it (or there are none): the revision is approved, copied into
    /// the approved snapshot, and goes to the rest after `pause`.
    private func approve(_ group: GroupRollout, revision: Int, changes: ChangeBatch, canaries: [Int], now: Double) {
        do {
            try mirror(changes, from: SourceTree(root: group.candidate), into: group.approved)
        } catch {
            logger.error(
                "group \(group.name): cannot keep approved revision \(revision): \(error)",
                metadata: ["pipeline": "\(config.name)"])
            group.phase = .held(revision: revision)
            return
        }
        group.approvedRevision = revision
        group.banner = nil
        if group.rollout.pause > 0 && !canaries.isEmpty {
            group.phase = .pausing(
                revision: revision, changes: changes, canaries: canaries, at: now + group.rollout.pause)
        } else {
            roll(group, revision: revision, changes: changes, canaries: canaries, now: now)
        }
    }

    /// The approved revision goes to every host of the group but its canaries.
    private func roll(_ group: GroupRollout, revision: Int, changes: ChangeBatch, canaries: [Int], now: Double) {
        let rest = group.hosts.filter { !canaries.contains($0) }
        for index in group.hosts {
            if canaries.contains(index) {
                fleet.hosts[index].source = SourceTree(
                    root: group.approved, overlay: fleet.hosts[index].render?.directory)
            } else {
                assign(changes, to: index, from: group.approved, group: group)
            }
        }
        group.phase = .rolling(revision: revision, waiting: Set(rest), failures: 0)
        if rest.isEmpty { finish(group, now: now) }
    }

    private func finish(_ group: GroupRollout, now: Double) {
        group.phase = .idle
        advance(group, revision: batchNumber, now: now)
    }

    /// A group's pause that ended, and revisions waiting behind it.
    func rolloutDue(now: Double) {
        for group in groups {
            if case let .pausing(revision, changes, canaries, at) = group.phase, now >= at {
                roll(group, revision: revision, changes: changes, canaries: canaries, now: now)
            }
        }
    }

    /// The earliest pause that ends.
    var rolloutDeadline: Double? {
        groups.compactMap { if case let .pausing(_, _, _, at) = $0.phase { return at } else { return nil } }.min()
    }

    /// A host of a staged group answered: the group's roll-out moves on, holds or halts.
    func rolloutResult(_ index: Int, ok: Bool, lostSession: Bool, why: String, now: Double) {
        guard let group = groups.first(where: { $0.hosts.contains(index) }) else { return }
        let host = fleet.hosts[index]
        switch group.phase {
        case .canary(let revision, let changes, var canaries, var waiting) where waiting.contains(index):
            if lostSession {
                // An unreachable canary is passed over (it catches up later like any host).
                waiting.remove(index)
                canaries.removeAll { $0 == index }
                host.pending = PendingChanges()
                if let next = group.hosts.first(where: {
                    !canaries.contains($0) && $0 != index && fleet.hosts[$0].reachable != false
                }) {
                    canaries.append(next)
                    waiting.insert(next)
                    assign(changes, to: next, from: group.candidate, group: group)
                    logger.notice(
                        "group \(group.name): canary \(host.uri) unreachable; \(fleet.hosts[next].uri) takes its place",
                        metadata: ["pipeline": "\(config.name)"])
                }
                if waiting.isEmpty {
                    // No canary within reach: the revision waits for one to be back.
                    group.incoming.add(changes)
                    group.phase = .held(revision: revision)
                    logger.warning(
                        "group \(group.name): batch \(revision) waits: no canary within reach",
                        metadata: ["pipeline": "\(config.name)"])
                } else {
                    group.phase = .canary(revision: revision, changes: changes, canaries: canaries, waiting: waiting)
                }
            } else if ok {
                waiting.remove(index)
                group.phase = .canary(revision: revision, changes: changes, canaries: canaries, waiting: waiting)
                if waiting.isEmpty {
                    approve(group, revision: revision, changes: changes, canaries: canaries, now: now)
                }
            } else {
                group.phase = .held(revision: revision)
                group.banner = "batch \(revision) held: canary \(host.uri) \(why)"
                logger.error("group \(group.name): \(group.banner!)", metadata: ["pipeline": "\(config.name)"])
                advance(group, revision: batchNumber, now: now)
            }
        case .rolling(let revision, var waiting, var failures) where waiting.contains(index):
            waiting.remove(index)
            // A host that is down is not a failure of the revision: it catches up when it is back.
            if !ok && !lostSession { failures += 1 }
            if let limit = group.rollout.maxFailures, failures > limit {
                // Those not reached yet keep what they had; the next revision takes them along.
                for other in waiting where !fleet.hosts[other].busy { fleet.hosts[other].paused = true }
                group.phase = .halted(revision: revision)
                group.banner =
                    "batch \(revision) halted after \(failures) failures (max_failures = \(limit)): \(why)"
                logger.error("group \(group.name): \(group.banner!)", metadata: ["pipeline": "\(config.name)"])
                return advance(group, revision: batchNumber, now: now)
            }
            group.phase = .rolling(revision: revision, waiting: waiting, failures: failures)
            if waiting.isEmpty { finish(group, now: now) }
        default:
            // A host of an idle group answered (one back from being down): a revision waiting
            // for a reachable canary can go now.
            if ok, !group.isBusy { advance(group, revision: batchNumber, now: now) }
        }
    }

    /// Brings a snapshot directory up to date with `source` for a batch's paths (all of them
    /// for a full rescan), atomically, as a `file://` target is.
    private func mirror(_ changes: ChangeBatch, from source: SourceTree, into directory: String) throws {
        let target = try LocalTarget(root: directory)
        _ = try target.sync(
            paths: changes.fullRescan ? fullSyncPaths : changes.paths, moves: changes.fullRescan ? [:] : changes.moves,
            source: source, filter: filter, delete: true, cancelled: { false })
    }
}
