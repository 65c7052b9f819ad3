import RunnerSystem

/// The control plane's decisions, as a value with no I/O: events in (a revision cut, a host's
/// answer, time passing), actions out (send revision R to host H, approve, hold, halt), given
/// the time. Level-triggered: after every event each host that is idle and not at the
/// revision it should have is sent that revision, from wherever it is; no host ever waits for
/// another. A group's canaries (its first hosts that answer) get each new revision first and
/// their success moves the group's `approved` pointer; the rest are brought to it.
///
/// Tested in-process under thousands of seeded schedules (`RolloutSimulationTests`); the
/// run loop (`PipelineRunner`) feeds it and carries out what it says.
public struct Rollout: Sendable {
    /// How revisions roll out: the pipeline's `rollout`, `max_parallel` and `retry`.
    public struct Policy: Sendable, Equatable {
        /// Canaries per named group (0: every host at once).
        public var canaries = 0
        /// A named group halts when more hosts than this fail one revision (nil: never).
        public var maxFailures: Int?
        /// Seconds between a group's approval and the rest of its hosts.
        public var pause: Double = 0
        /// Deliveries under way at once.
        public var maxParallel = 16
        /// Backoff after a failure: `initial` doubling up to `maximum`, less up to a fifth.
        public var retryInitial: Double = 1
        public var retryMaximum: Double = 60
        /// False for `--once`: a host that fails is not tried again.
        public var retries = true
        /// Groups whose every revision waits for an operator's approval (`approve`).
        public var approve = Set<String>()

        /// A policy.
        public init(
            canaries: Int = 0, maxFailures: Int? = nil, pause: Double = 0, maxParallel: Int = 16,
            retryInitial: Double = 1, retryMaximum: Double = 60, retries: Bool = true, approve: Set<String> = []
        ) {
            self.canaries = canaries
            self.maxFailures = maxFailures
            self.pause = pause
            self.maxParallel = max(1, maxParallel)
            self.retryInitial = retryInitial
            self.retryMaximum = max(retryInitial, retryMaximum)
            self.retries = retries
            self.approve = approve
        }
    }

    /// What happens to the machine.
    public enum Event: Sendable, Equatable {
        /// A revision was cut from the source; `gates` says why it waits for an operator in
        /// the groups where it must (a guard that tripped).
        case cut(revision: Int, gates: [Int: String] = [:])
        /// An operator's rollback: `revision` (an old one's content, cut anew) for group `group`
        /// alone, as approved by the operator who asked for it.
        case rollback(group: Int, revision: Int)
        /// An operator let group `group` have `revision` (one waiting, or older).
        case approve(group: Int, revision: Int)
        /// An operator dropped what waits for approval in group `group`.
        case reject(group: Int)
        /// A host answered the delivery under way to it.
        case answered(host: Int, Answer)
        /// Time passed (a backoff or a pause may have ended).
        case tick
        /// A stop: hosts that answer and wait out a backoff are tried now.
        case expedite
        /// A host that dials in (`dial://`) connected: it is tried now, and one that was away
        /// (its last attempt failed) is compared whole, since what it holds may have changed.
        case dialed(host: Int)
        /// No delivery starts from now on (the sender is going away, or reloading).
        case quiesce
        /// Deliveries start again (a reload that failed).
        case resume
    }

    /// How a delivery ended.
    public enum Answer: Sendable, Equatable {
        /// Committed, every action passed.
        case applied
        /// Committed, but an action failed (the files are there; it does not approve).
        case actionFailed(String)
        /// Refused: an action rolled the batch back, or the host's templates would not
        /// render. The host keeps what it had; the revision is not sent to it again.
        case refused(String)
        /// An error before the commit: tried again after a backoff.
        case failed(String)
        /// The session broke or timed out: what the host has is unknown now (the batch may
        /// have been committed), so it is compared whole when it answers again.
        case unreachable(String)
    }

    /// What the machine decided.
    public enum Action: Sendable, Equatable {
        /// Bring `host` from `from` (nil: unknown, compare whole) to `revision`.
        case send(host: Int, revision: Int, from: Int?)
        /// The group's canaries applied `revision`.
        case approved(group: Int, revision: Int)
        /// The group's other hosts are brought to `revision` now.
        case released(group: Int, revision: Int)
        /// `revision` waits for an operator's approval in the group.
        case waiting(group: Int, revision: Int, why: String)
        /// A canary refused `revision`: the group waits for the next change.
        case held(group: Int, revision: Int, why: String)
        /// More hosts than `max_failures` failed `revision`.
        case halted(group: Int, revision: Int, why: String)
        /// The group's canary no longer answers: `next` gets its revisions first.
        case canaryReplaced(group: Int, host: Int, next: Int?)
        /// A host stopped answering, or answers again.
        case down(host: Int, why: String)
        case back(host: Int)
    }

    public internal(set) var policy: Policy
    /// False once the sender is going away: answers still count, nothing new starts.
    public internal(set) var dispatching = true
    /// The newest revision cut, a rollback's too (0: none yet).
    public internal(set) var head = 0
    public internal(set) var groups: [GroupState]
    public internal(set) var hosts: [HostState]
    /// The backoff's jitter, seeded (the simulation replays it).
    var random: SplitMix
    /// The time of the last event.
    var clock = 0.0

    /// A machine for these groups (hosts by URI, in order; `staged` groups follow the policy's
    /// canaries and `max_failures`), restoring what `state` remembers. `renderKeys`: what each
    /// host's templates are rendered with.
    public init(
        groups layout: [(name: String, hosts: [String], staged: Bool)], policy: Policy, state: RolloutState? = nil,
        renderKeys: [String: String] = [:], seed: UInt64
    ) {
        self.policy = policy
        random = SplitMix(state: seed)
        var groups: [GroupState] = []
        var hosts: [HostState] = []
        for (g, layout) in layout.enumerated() {
            let members = Array(hosts.count..<(hosts.count + layout.hosts.count))
            hosts += layout.hosts.map { HostState(uri: $0, group: g, renderKey: renderKeys[$0]) }
            groups.append(
                GroupState(
                    name: layout.name, hosts: members, canaries: layout.staged ? policy.canaries : 0,
                    maxFailures: layout.staged ? policy.maxFailures : nil, gated: policy.approve.contains(layout.name)))
        }
        self.groups = groups
        self.hosts = hosts
        for g in groups.indices { chooseCanaries(g) }
        if let state { restore(state) }
    }

    /// Handles one event at `now` and returns what to do, sends last.
    public mutating func handle(_ event: Event, now: Double) -> [Action] {
        var actions: [Action] = []
        clock = now
        // What waited before a restart waits since the restart (the clock began again).
        for g in groups.indices where groups[g].waiting?.since.isNaN == true { groups[g].waiting!.since = now }
        // Only where nothing was released is a canary's place a matter of time (`canaries(of:)`).
        for g in groups.indices where groups[g].released == 0 { chooseCanaries(g) }
        switch event {
        case .cut(let revision, let gates):
            guard revision > head else { break }
            head = revision
            for g in groups.indices { offer(g, revision, gate: gates[g], now: now, &actions) }
        case .rollback(let g, let revision):
            guard revision > head else { break }
            head = revision
            groups[g].head = revision
            groups[g].waiting = nil
            admit(g, revision, now: now, &actions)
        case .approve(let g, let revision):
            guard let waiting = groups[g].waiting, revision <= waiting.revision, revision > groups[g].admitted
            else { break }
            if revision == waiting.revision { groups[g].waiting = nil }
            admit(g, revision, now: now, &actions)
        case .reject(let g):
            groups[g].waiting = nil
        case .answered(let host, let answer):
            answered(host, answer, now: now, &actions)
        case .tick:
            break
        case .expedite:
            for h in hosts.indices where hosts[h].reachable != false { hosts[h].notBefore = nil }
        case .dialed(let h):
            hosts[h].notBefore = nil
            if hosts[h].reachable == false, hosts[h].sending == nil { hosts[h].applied = nil }
            // Passed over while its attempt was not due, it may be a canary again now (the
            // simulation found a group that waited for its next event without this).
            chooseCanaries(hosts[h].group)
        case .quiesce:
            dispatching = false
        case .resume:
            dispatching = true
        }
        for g in groups.indices {
            // Level-triggered: what the canaries hold now approves, whatever the event was.
            if groups[g].canaries > 0 { checkApproval(g, now: now, &actions) }
            release(g, now: now, &actions)
            groups[g].waitingSince = candidate(of: g) == nil ? nil : groups[g].waitingSince ?? now
        }
        if dispatching { dispatch(now: now, &actions) }
        return actions
    }

    /// When the machine next needs a tick: a backoff or a pause that ends.
    public var deadline: Double? {
        var next: Double?
        for h in hosts.indices {
            let host = hosts[h]
            guard let at = host.notBefore, next.map({ at < $0 }) ?? true, host.sending == nil, !host.givenUp,
                wants(h)
            else { continue }
            next = at
        }
        for g in groups where g.releaseAt != nil { next = min(next ?? .infinity, g.releaseAt!) }
        // A host passed over as canary is one again when its backoff ends.
        for host in hosts where host.reachable == false && host.sending == nil && !host.givenUp {
            if let at = host.notBefore, at > clock { next = min(next ?? .infinity, at) }
        }
        return next
    }

    /// Deliveries under way.
    public var running: Int {
        var n = 0
        for h in hosts.indices where hosts[h].sending != nil { n += 1 }
        return n
    }

    /// `--once`: a host that fails is not tried again.
    public mutating func stopRetrying() { policy.retries = false }
}
