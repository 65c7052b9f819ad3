import Logging
import RunnerSystem

extension PipelineRunner {
    /// Whether this pipeline acts (watches, cuts, pushes): always without coordination, and
    /// with it only while it leads.
    var isActive: Bool { lead == nil || lead?.term != nil }

    /// Follows what the leader loop knows: takes over when this sender came to lead, stands
    /// down when its lease no longer covers the moment (a renewal that failed, etcd out of
    /// reach, a lost lease) — before the lease can have run out, never after.
    func followLeader(now: Double, control: RunControl) {
        guard let lead else { return }
        let snapshot = lead.loop.snapshot
        if lead.term != nil {
            guard !lead.loop.mayPush(at: now) else { return }
            standDown(
                why: snapshot.error.map { "etcd: \($0)" }
                    ?? (snapshot.role == .standby(leader: nil) ? "the lease ran out" : "another sender leads"))
            return
        }
        guard case .leader(let token) = snapshot.role, lead.loop.mayPush(at: now) else {
            // Standing by behind a leader that is up is no trouble; etcd out of reach is.
            lead.stoppedWhy = snapshot.error.map { "etcd: \($0)" }
            if case .standby(let leader?) = snapshot.role, leader != lead.announced {
                lead.announced = leader
                logger.notice("standing by: \(leader) leads", metadata: ["audit": "standby"])
            }
            return
        }
        if let at = lead.takeOverAgainAt, now < at { return }
        takeOver(token: token, control: control)
    }

    /// Takes the pipeline over in term `token`: the state the last leader left in etcd,
    /// translated to this log's revisions by content, replaces the rollout; then the watch and
    /// the start's comparison, as at a start.
    private func takeOver(token: UInt64, control: RunControl) {
        guard let lead else { return }
        let theirs: RolloutState
        do { theirs = try lead.store.load() } catch {
            logger.error("leading, but etcd's state cannot be read: \(error); trying again in 1 s")
            lead.takeOverAgainAt = MonotonicClock.now + 1
            return
        }
        lead.takeOverAgainAt = nil
        // New revisions take numbers no sender used in etcd; the source as it is now is one of
        // them (cut before the translation: what hosts confirmed is most often just that).
        log.reserve(through: max(theirs.revisions.max() ?? 0, lead.store.identities.keys.max() ?? 0))
        _ = try? log.cut(cutRequest(paths: nil, note: "takeover"))
        // This log's revisions by identity, newest first, until every one etcd names is found
        // (at most 32: a revision older than those is taken on the safe side).
        var mine: [String: Int] = [:]
        var wanted = Set(lead.store.identities.values)
        for number in log.numbers().reversed().prefix(32) where !wanted.isEmpty {
            guard let id = identity(number) else { continue }
            if mine[id] == nil { mine[id] = number }
            wanted.remove(id)
        }
        var groupOf: [String: String] = [:]
        for g in rollout.groups { for h in g.hosts { groupOf[rollout.hosts[h].uri] = g.name } }
        let state = theirs.translated(theirs: lead.store.identities, mine: mine, groupOf: groupOf)
        lead.term = token
        lead.token.set(token)
        lead.stoppedWhy = nil
        abandoned = Cancellation()
        // Nothing in etcd yet (the first leader of a pipeline that ran alone): its own state.
        rollout = Self.makeRollout(
            config, layout: layout, log: log, state: state.head == 0 && theirs.head == 0 ? journal?.written : state,
            renderKeys: renderKeys)
        logger.notice(
            "leading as \(lead.settings.name) (term \(token)): continuing from etcd's state at revision \(theirs.head)",
            metadata: ["audit": "lead", "term": "\(token)"])
        do { try startWatching() } catch {
            logger.error("\(error)")
            standDown(why: "\(error)")
            lead.loop.stop(resign: true)
            return
        }
        initialSync(control: control)
    }

    /// `--once` with coordination: waits (a lease and 2 s at most) for this sender to lead.
    func waitToLead(control: RunControl) {
        guard let lead else { return }
        let deadline = MonotonicClock.now + Double(lead.settings.lease) + 2
        while !isActive, MonotonicClock.now < deadline, !control.isStopRequested {
            waitForWork(control: control, until: MonotonicClock.now + 0.1)
            followLeader(now: MonotonicClock.now, control: control)
        }
        if !isActive {
            let holder: String
            if case .standby(let leader?) = lead.loop.snapshot.role { holder = leader } else { holder = "nobody" }
            logger.error(
                "\(lead.settings.name) does not lead pipeline \(config.name) (\(holder) does): nothing pushed",
                metadata: ["why": "\(lead.stoppedWhy ?? "standby")"])
        }
    }

    /// Stops pushing: what is under way commits nothing, the watch ends, and the pipeline
    /// waits to lead again (from etcd's state then).
    func standDown(why: String) {
        guard let lead, let term = lead.term else { return }
        logger.error(
            "stopped pushing (term \(term) over): \(why)", metadata: ["audit": "standby", "term": "\(term)"])
        lead.term = nil
        lead.stoppedWhy = why
        abandoned.cancel()
        // What the watch saw and did not cut is in the next leader's start comparison.
        _ = stopWatching(now: MonotonicClock.now)
        saveState()
    }

    /// Revision `number`'s identity across senders (`RevisionLog.identity`), remembered: a
    /// revision never changes, and reading a manifest whole is not free.
    func identity(_ number: Int) -> String? {
        if let known = lead?.identities[number] { return known }
        guard let record = log.record(number), let id = log.identity(of: record) else { return nil }
        if let lead, lead.identities.count > 1024 { lead.identities.removeAll() }
        lead?.identities[number] = id
        return id
    }

    /// Writes the state to etcd, fenced by the term: false when it could not (etcd out of
    /// reach: the push waits; another sender leads: this one stands down).
    func saveToEtcd() -> Bool {
        guard let lead, let term = lead.term else { return lead == nil }
        guard MonotonicClock.now - lead.saveFailedAt >= 1 else {
            lead.writeBehindAt = lead.saveFailedAt + 1
            return false
        }
        let state = rollout.state
        var identities: [Int: String] = [:]
        for n in state.revisions { identities[n] = identity(n) }
        lead.writeBehindAt = nil
        do {
            guard try lead.store.save(state, identities: identities, audit: lead.audit, token: term) else {
                standDown(why: "another sender leads (etcd's leader key is no longer term \(term)'s)")
                return false
            }
            lead.audit.removeAll()
            if lead.saveError != nil { logger.notice("the rollout's state is written to etcd again") }
            lead.saveError = nil
            return true
        } catch {
            if lead.saveError == nil { logger.error("cannot write the rollout's state to etcd: \(error)") }
            lead.saveError = "\(error)"
            lead.saveFailedAt = MonotonicClock.now
            lead.writeBehindAt = MonotonicClock.now + 1
            return false
        }
    }
}
