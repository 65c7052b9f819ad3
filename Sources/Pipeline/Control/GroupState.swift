/// What the rollout knows of one group: the revision its canaries approved, the one the
/// rest are brought to (`released`, after `pause`), and why it is held or halted.
public struct GroupState: Sendable, Equatable {
    /// A revision held back, why, and since when (the machine's clock).
    public struct Hold: Sendable, Equatable {
        public var revision: Int
        public var why: String
        public var since: Double
    }

    /// The group's name ("" for hosts a pipeline names directly).
    public let name: String
    /// Its hosts, in the order the group lists them (canaries are the first that answer).
    public let hosts: [Int]
    /// Hosts that get a revision first (0: every host gets each revision at once).
    public let canaries: Int
    /// The group halts when more of its hosts than this fail one revision (nil: never).
    public let maxFailures: Int?
    /// Every revision waits for an operator's approval (`approve`).
    public let gated: Bool
    /// The newest revision cut for the group (a rollback is cut for its group alone).
    public internal(set) var head = 0
    /// The newest revision the group may roll out: each one cut, unless it needs an
    /// operator's approval (a gated group, a guard that tripped), then the one approved.
    public internal(set) var admitted = 0
    /// The newest revision waiting for an operator's approval, why, and since when.
    public internal(set) var waiting: Hold?
    /// The newest revision its canaries applied (every revision, without canaries); 0: none.
    public internal(set) var approved = 0
    /// What the hosts that are not canaries are brought to: `approved`, once `pause` passed.
    public internal(set) var released = 0
    /// When `approved` is released.
    public internal(set) var releaseAt: Double?
    /// The newest candidate a canary refused: the group waits for the next change.
    public internal(set) var held: Hold?
    /// Its canaries now (kept as reachability changes: asked of every host at every step).
    var canaryHosts: [Int] = []
    /// Candidates newer than `approved` that a canary refused: never approved.
    var refusedCandidates = Set<Int>()
    /// Candidates newer than `approved`, and the canaries that applied each: one is approved
    /// once every canary of the group applied that very revision.
    var verdicts: [Int: Set<Int>] = [:]
    /// More hosts than `maxFailures` failed `released`: the rest wait for the next revision.
    public internal(set) var halted: Hold?
    /// Hosts (not canaries) that failed or refused `released`.
    public internal(set) var failed = Set<Int>()
    /// Since when a revision newer than `approved` waits for its canaries (nil: none waits).
    public internal(set) var waitingSince: Double?

    init(name: String, hosts: [Int], canaries: Int, maxFailures: Int?, gated: Bool = false) {
        self.name = name
        self.gated = gated
        self.hosts = hosts
        self.canaries = canaries
        self.maxFailures = maxFailures
    }
}
