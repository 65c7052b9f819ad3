extension Rollout {
    /// A group's canaries now: its first `canaries` hosts not known to be down.
    public func canaries(of g: Int) -> [Int] {
        guard groups[g].canaries > 0 else { return [] }
        return Array(groups[g].hosts.filter { hosts[$0].reachable != false }.prefix(groups[g].canaries))
    }

    /// The revision waiting for the group's canaries: the head, when newer than what they
    /// approved and than what they refused last.
    public func candidate(of g: Int) -> Int? {
        guard groups[g].canaries > 0, head > groups[g].approved, head > (groups[g].held?.revision ?? 0) else {
            return nil
        }
        return head
    }

    /// The revision host `h` should have: its group's candidate for a canary, else what the
    /// group released (0: nothing yet). A host that has an approved revision newer than what
    /// was released (a canary before) keeps it.
    public func desired(_ h: Int) -> Int {
        let g = hosts[h].group
        if canaries(of: g).contains(h) { return candidate(of: g) ?? groups[g].approved }
        if let applied = hosts[h].applied, applied > groups[g].released, applied <= groups[g].approved {
            return applied
        }
        return groups[g].released
    }

    /// Whether `h` needs a delivery (ignoring backoff and the window): it is not at its
    /// revision, or it is down and must be probed; and nothing keeps it waiting.
    func wants(_ h: Int) -> Bool {
        let host = hosts[h], g = host.group, target = desired(h)
        guard target > 0, host.refused != target else { return false }
        if let halt = groups[g].halted, halt.revision == groups[g].released, !canaries(of: g).contains(h) {
            return false
        }
        return host.applied != target || host.reachable == false
    }

    /// Starts a delivery for every host that wants one and may have it, while the window has
    /// room: hosts that answer first, so that one that is down never takes a healthy one's place.
    mutating func dispatch(now: Double, _ actions: inout [Action]) {
        var running = self.running
        let order =
            hosts.indices.filter { hosts[$0].reachable != false }
            + hosts.indices.filter {
                hosts[$0].reachable == false
            }
        for h in order where running < policy.maxParallel {
            let host = hosts[h]
            guard host.sending == nil, !host.givenUp, host.notBefore.map({ now >= $0 }) ?? true, wants(h) else {
                continue
            }
            let revision = desired(h)
            let asCanary = canaries(of: host.group).contains(h) && revision > groups[host.group].approved
            hosts[h].sending = .init(revision: revision, from: host.applied, since: now, asCanary: asCanary)
            running += 1
            actions.append(.send(host: h, revision: revision, from: host.applied))
        }
    }

    /// `revision` is approved for group `g` (its canaries applied it, or it has none).
    mutating func approve(_ g: Int, _ revision: Int, now: Double, _ actions: inout [Action]) {
        guard revision > groups[g].approved else { return }
        groups[g].approved = revision
        if let held = groups[g].held, held.revision <= revision { groups[g].held = nil }
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
        groups[g].released = groups[g].approved
        groups[g].failed = []
        groups[g].halted = nil
        if groups[g].canaries > 0 || groups[g].maxFailures != nil {
            actions.append(.released(group: g, revision: groups[g].released))
        }
    }

    /// The group's canaries all applied something newer than what it approved: the oldest
    /// of those is approved.
    mutating func checkApproval(_ g: Int, now: Double, _ actions: inout [Action]) {
        let current = canaries(of: g)
        guard !current.isEmpty else { return }
        let reached = current.map { hosts[$0].applied ?? 0 }.min()!
        if reached <= head { approve(g, reached, now: now, &actions) }
    }
}
