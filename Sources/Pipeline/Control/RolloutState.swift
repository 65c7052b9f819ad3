/// What a rollout remembers across restarts and reloads, by name: the head, each group's
/// pointers and each host's revisions. A delivery that was under way when the sender
/// stopped is not known to have landed: that host is compared whole next time.
public struct RolloutState: Codable, Sendable, Equatable {
    /// A group's pointers, and what holds it.
    public struct Group: Codable, Sendable, Equatable {
        public var approved = 0
        public var released = 0
        public var held: Int?
        public var heldWhy: String?
        public var halted: Int?
        public var haltedWhy: String?
        /// The group's newest revision and the newest it may roll out (nil in a state written
        /// before approvals: the pipeline's head, both).
        public var head: Int?
        public var admitted: Int?
        /// A revision waiting for an operator's approval, and why.
        public var waiting: Int?
        public var waitingWhy: String?
        /// Candidates newer than the approved revision that a canary refused (nil in a state
        /// written before they were kept: the held one alone). Kept so that, after a restart,
        /// another canary's verdict never approves what one refused.
        public var refusedCandidates: [Int]?
    }

    /// A host's revisions.
    public struct Host: Codable, Sendable, Equatable {
        public var applied: Int?
        /// The revision under way to it when this was written.
        public var sending: Int?
        public var refused: Int?
        public var refusal: String?
        /// What its templates were rendered with (its values): when they change, every template
        /// is compared again.
        public var renderKey: String?
    }

    public var head = 0
    public var groups: [String: Group] = [:]
    public var hosts: [String: Host] = [:]

    /// An empty state.
    public init() {}
}

extension Rollout {
    /// The state to remember now.
    public var state: RolloutState { state(ofHosts: hosts.indices) }

    /// The state to remember now, with only the hosts `indices` (and every group): what an
    /// answer can change without starting a delivery (the answering host and its group).
    func state(ofHosts indices: some Sequence<Int>) -> RolloutState {
        var s = RolloutState()
        s.head = head
        for g in groups {
            s.groups[g.name] = .init(
                approved: g.approved, released: g.released, held: g.held?.revision, heldWhy: g.held?.why,
                halted: g.halted?.revision, haltedWhy: g.halted?.why, head: g.head, admitted: g.admitted,
                waiting: g.waiting?.revision, waitingWhy: g.waiting?.why,
                refusedCandidates: g.refusedCandidates.isEmpty ? nil : g.refusedCandidates.sorted())
        }
        for h in indices.lazy.map({ hosts[$0] }) {
            s.hosts[h.uri] = .init(
                applied: h.applied, sending: h.sending?.revision, refused: h.refused, refusal: h.refusal,
                renderKey: h.renderKey)
        }
        return s
    }

    /// Takes up what `state` remembers (groups and hosts by name; new ones start afresh).
    mutating func restore(_ state: RolloutState) {
        head = state.head
        for g in groups.indices {
            guard let saved = state.groups[groups[g].name] else {
                // A group new to this state: everything so far is its own to roll out.
                (groups[g].head, groups[g].admitted) = (head, head)
                continue
            }
            groups[g].head = min(saved.head ?? head, head)
            groups[g].admitted = min(saved.admitted ?? head, groups[g].head)
            groups[g].waiting = saved.waiting.flatMap { w in
                w <= groups[g].head && w > groups[g].admitted
                    ? .init(revision: w, why: saved.waitingWhy ?? "waiting for approval", since: .nan) : nil
            }
            groups[g].approved = min(saved.approved, head)
            groups[g].released = min(saved.released, groups[g].approved)
            groups[g].held = saved.held.map { .init(revision: $0, why: saved.heldWhy ?? "", since: 0) }
            groups[g].halted = saved.halted.map { .init(revision: $0, why: saved.haltedWhy ?? "", since: 0) }
            groups[g].refusedCandidates = Set((saved.refusedCandidates ?? []).filter { $0 > groups[g].approved })
            // Approved but not released when it stopped: released at once (the pause was owed before).
            if groups[g].approved > groups[g].released { groups[g].releaseAt = 0 }
        }
        for h in hosts.indices {
            guard let saved = state.hosts[hosts[h].uri] else { continue }
            // Under way when it stopped, or at a revision the log lost: what it has is unknown.
            hosts[h].applied = saved.sending == nil && (saved.applied ?? 0) <= head ? saved.applied : nil
            hosts[h].refused = saved.refused
            hosts[h].refusal = saved.refusal
            // Rendered with other values: compared whole.
            if saved.renderKey != hosts[h].renderKey { hosts[h].applied = nil }
        }
        // What canaries applied past the approved revision still counts for its approval.
        for g in groups.indices {
            if let held = groups[g].held { groups[g].refusedCandidates.insert(held.revision) }
            for h in canaries(of: g) {
                guard let applied = hosts[h].applied, applied > groups[g].approved else { continue }
                groups[g].verdicts[applied, default: []].insert(h)
            }
        }
    }
}
