extension Rollout {
    /// A group's canaries now: its first `canaries` hosts that are not passed over. A host that
    /// did not answer is passed over until it answers again: its retries bring it to what the
    /// group released, and then it is a canary again if it comes first. A group that released
    /// nothing yet has nothing to retry a host with but its candidate: there a host is passed
    /// over only until its next attempt is due. When every host is passed over, the first
    /// ones are the canaries all the same.
    public func canaries(of g: Int) -> [Int] { groups[g].canaryHosts }

    /// Chooses group `g`'s canaries again (a host went down or came back, or time passed).
    mutating func chooseCanaries(_ g: Int) {
        guard groups[g].canaries > 0 else { return }
        let fresh = groups[g].released == 0
        let eligible = groups[g].hosts.filter { h in
            let host = hosts[h]
            return host.reachable != false || host.sending?.asCanary == true
                || (fresh && !host.givenUp && host.notBefore.map { $0 <= clock } ?? true)
        }
        groups[g].canaryHosts = Array((eligible.isEmpty ? groups[g].hosts : eligible).prefix(groups[g].canaries))
    }

    /// The revision waiting for the group's canaries: the newest one it may roll out, when
    /// newer than what they approved and than what they refused last.
    public func candidate(of g: Int) -> Int? {
        let admitted = groups[g].admitted
        guard groups[g].canaries > 0, admitted > groups[g].approved, admitted > (groups[g].held?.revision ?? 0)
        else { return nil }
        return admitted
    }

    /// Revision `revision` is the group's newest: it may roll out at once, or it waits for an
    /// operator (the group is gated, `gate` says why, or an older one waits already: a
    /// newer revision holds what waits).
    mutating func offer(_ g: Int, _ revision: Int, gate: String?, now: Double, _ actions: inout [Action]) {
        groups[g].head = revision
        let waiting = groups[g].waiting
        guard groups[g].gated || gate != nil || waiting != nil else { return admit(g, revision, now: now, &actions) }
        let why = gate ?? waiting?.why ?? "waiting for approval"
        groups[g].waiting = .init(revision: revision, why: why, since: waiting?.since ?? now)
        actions.append(.waiting(group: g, revision: revision, why: why))
    }

    /// The group may roll `revision` out: its canaries get it, or without canaries every host.
    mutating func admit(_ g: Int, _ revision: Int, now: Double, _ actions: inout [Action]) {
        guard revision > groups[g].admitted else { return }
        groups[g].admitted = revision
        if groups[g].canaries == 0 { approve(g, revision, now: now, &actions) }
    }

    /// The revision host `h` should have: its group's candidate for a canary, else what the
    /// group released (0: nothing yet). A host that has an approved revision newer than what
    /// was released (a canary before) keeps it.
    public func desired(_ h: Int) -> Int {
        let host = hosts[h]
        return desired(h, host, in: groups[host.group])
    }

    /// `desired(h)`, from copies of the host and its group (one copy each: this runs for every
    /// host at every step).
    private func desired(_ h: Int, _ host: HostState, in group: GroupState) -> Int {
        if group.canaryHosts.contains(h) {
            let admitted = group.admitted
            if group.canaries > 0, admitted > group.approved, admitted > (group.held?.revision ?? 0) { return admitted }
            // No candidate now: a canary keeps a newer revision it applied, unless one refused it.
            if let applied = host.applied, applied > group.approved, applied <= admitted,
                !group.refusedCandidates.contains(applied)
            {
                return applied
            }
            return group.approved
        }
        if let applied = host.applied, applied > group.released, applied <= group.approved { return applied }
        return group.released
    }

    /// The revision `h` needs now (ignoring backoff and the window): nil when it has its
    /// revision, or something keeps it waiting (it refused that revision; its group halted).
    func wanted(_ h: Int) -> Int? {
        let host = hosts[h], group = groups[host.group]
        let target = desired(h, host, in: group)
        guard target > 0, host.refused != target, host.applied != target else { return nil }
        if let halt = group.halted, halt.revision == group.released, !group.canaryHosts.contains(h) { return nil }
        return target
    }

    /// Whether `h` needs a delivery (ignoring backoff and the window).
    func wants(_ h: Int) -> Bool { wanted(h) != nil }

    /// Starts a delivery for every host that wants one and may have it, while the window has
    /// room: hosts that answer first, so that one that is down never takes a healthy one's place.
    mutating func dispatch(now: Double, _ actions: inout [Action]) {
        var running = self.running
        for pass in [true, false] {
            for h in hosts.indices where running < policy.maxParallel && (hosts[h].reachable != false) == pass {
                let host = hosts[h]
                guard host.sending == nil, !host.givenUp, host.notBefore.map({ now >= $0 }) ?? true,
                    let revision = wanted(h)
                else { continue }
                let group = groups[host.group]
                let asCanary = group.canaryHosts.contains(h) && revision > group.approved
                hosts[h].sending = .init(revision: revision, from: host.applied, since: now, asCanary: asCanary)
                running += 1
                actions.append(.send(host: h, revision: revision, from: host.applied))
            }
        }
    }

    /// `revision` is approved for group `g` (its canaries applied it, or it has none).
    mutating func approve(_ g: Int, _ revision: Int, now: Double, _ actions: inout [Action]) {
        guard revision > groups[g].approved else { return }
        groups[g].approved = revision
        if let held = groups[g].held, held.revision <= revision { groups[g].held = nil }
        groups[g].verdicts = groups[g].verdicts.filter { $0.key > revision }
        groups[g].refusedCandidates = groups[g].refusedCandidates.filter { $0 > revision }
        groups[g].waitingSince = nil
        if groups[g].canaries > 0 { actions.append(.approved(group: g, revision: revision)) }
        if groups[g].releaseAt == nil {
            groups[g].releaseAt = groups[g].canaries > 0 ? now + policy.pause : now
        }
    }

    /// Releases what the group approved, once its pause is over.
    mutating func release(_ g: Int, now: Double, _ actions: inout [Action]) {
        guard let at = groups[g].releaseAt, now >= at else { return }
        groups[g].releaseAt = nil
        guard groups[g].approved > groups[g].released else { return }
        let first = groups[g].released == 0
        groups[g].released = groups[g].approved
        if first { chooseCanaries(g) }
        groups[g].failed = []
        groups[g].halted = nil
        if groups[g].canaries > 0 || groups[g].maxFailures != nil {
            actions.append(.released(group: g, revision: groups[g].released))
        }
    }

    /// Every canary of the group applied one same revision newer than what it approved, none
    /// refused it, and no canary's verdict on it (or on an older one) is still to come: the
    /// newest such revision is approved.
    mutating func checkApproval(_ g: Int, now: Double, _ actions: inout [Action]) {
        let current = Set(canaries(of: g))
        guard !current.isEmpty else { return }
        let pending = groups[g].hosts.compactMap { h in hosts[h].sending.flatMap { $0.asCanary ? $0.revision : nil } }
        let approvable = groups[g].verdicts.filter { revision, applied in
            revision > groups[g].approved && !groups[g].refusedCandidates.contains(revision)
                && current.isSubset(of: applied) && !pending.contains { $0 <= revision }
        }
        if let newest = approvable.keys.max() { approve(g, newest, now: now, &actions) }
    }
}
