extension RolloutState {
    /// Every revision number the state names.
    public var revisions: Set<Int> {
        var numbers: Set<Int> = [head]
        for g in groups.values {
            numbers.formUnion(
                [g.approved, g.released, g.held, g.halted, g.head, g.admitted, g.waiting].compactMap { $0 })
        }
        for h in hosts.values { numbers.formUnion([h.applied, h.sending, h.refused].compactMap { $0 }) }
        numbers.remove(0)
        return numbers
    }

    /// This state, written by another sender, in the numbers of a sender whose log holds the
    /// revisions `mine` (identity → its number): a revision is the same where its content is
    /// the same (`theirs` gives the identities of the other's numbers). What this sender does not
    /// hold is taken on the safe side: a host's revision becomes unknown (it is compared
    /// whole), a group's pointers fall back to what it had approved (or nothing), so a
    /// revision is never taken as approved, applied or admitted unless it was. A host behind
    /// its group's approved revision, where that one is not held, is taken as unknown too:
    /// with nothing approved, a canary's older revision would count as a verdict for it, and
    /// the group would go back. A host ahead of what its group is taken as admitted (a
    /// canary of a candidate this sender does not hold as offered) is unknown as well: its
    /// revision would count as a verdict for a revision the group was never let have here.
    /// `groupOf` names each host's group (by URI).
    public func translated(theirs: [Int: String], mine: [String: Int], groupOf: [String: String]) -> RolloutState {
        func map(_ n: Int?) -> Int? {
            guard let n else { return nil }
            if n == 0 { return 0 }
            return theirs[n].flatMap { mine[$0] }
        }
        var s = RolloutState()
        s.head = map(head) ?? 0
        for (name, g) in groups {
            var t = Group()
            t.approved = map(g.approved) ?? 0
            t.released = min(map(g.released) ?? 0, t.approved)
            t.head = map(g.head ?? head).map { max($0, t.approved) } ?? t.approved
            t.admitted = map(g.admitted ?? g.head ?? head).map { max($0, t.approved) } ?? t.approved
            t.waiting = map(g.waiting)
            t.waitingWhy = t.waiting == nil ? nil : g.waitingWhy
            t.held = map(g.held)
            t.heldWhy = t.held == nil ? nil : g.heldWhy
            t.halted = map(g.halted)
            t.haltedWhy = t.halted == nil ? nil : g.haltedWhy
            let refused = (g.refusedCandidates ?? []).compactMap(map).filter { $0 > t.approved }
            t.refusedCandidates = refused.isEmpty ? nil : refused.sorted()
            s.groups[name] = t
        }
        for (uri, h) in hosts {
            var t = Host()
            // Under way when the other stopped: what it has is unknown.
            t.applied = h.sending == nil ? map(h.applied) : nil
            if let name = groupOf[uri], let g = groups[name], g.approved > 0, map(g.approved) == nil,
                (h.applied ?? 0) < g.approved
            {
                t.applied = nil
            }
            if let name = groupOf[uri], let tg = s.groups[name], let applied = t.applied,
                applied > min(tg.admitted ?? s.head, tg.head ?? s.head)
            {
                t.applied = nil
            }
            t.refused = map(h.refused)
            t.refusal = t.refused == nil ? nil : h.refusal
            t.renderKey = h.renderKey
            s.hosts[uri] = t
        }
        return s
    }
}
