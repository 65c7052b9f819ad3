/// One group's staged roll-out (`rollout = "canary"`, or `max_failures`): revisions of the
/// source go out one at a time, each frozen first. A revision is copied into the group's
/// candidate snapshot and sent from there to its canaries; once they applied it with their
/// actions passing, it is copied into the approved snapshot and sent from there to the
/// rest, who never see a revision the group refused. Both snapshots live under the state
/// directory, so a host that was away, or a restart, resyncs to the approved tree.
final class GroupRollout {
    let name: String
    /// The group's hosts (fleet indices), in the order the group lists them.
    let hosts: [Int]
    let rollout: PipelineConfig.Rollout
    /// The source as the revision under test has it.
    let candidate: String
    /// The source as the last approved revision has it.
    let approved: String
    /// Source changes that are in no revision of the group yet.
    var incoming = PendingChanges()
    var phase = Phase.idle
    /// The last revision approved.
    var approvedRevision: Int?
    /// Why the group is held or halted, until a revision is approved again.
    var banner: String?

    enum Phase: Equatable {
        /// Nothing under way: the next source change starts a revision.
        case idle
        /// `canaries` have the revision; those in `waiting` have not answered yet.
        case canary(revision: Int, changes: ChangeBatch, canaries: [Int], waiting: Set<Int>)
        /// Approved; the rest get it at `at` (`pause`).
        case pausing(revision: Int, changes: ChangeBatch, canaries: [Int], at: Double)
        /// The rest have it; `failures` of them failed so far.
        case rolling(revision: Int, waiting: Set<Int>, failures: Int)
        /// A canary refused the revision: no other host got it. The next change (the fix) goes on.
        case held(revision: Int)
        /// More hosts failed than `max_failures`: those not reached yet wait for the next revision.
        case halted(revision: Int)
    }

    init(name: String, hosts: [Int], rollout: PipelineConfig.Rollout, directory: String) {
        self.name = name
        self.hosts = hosts
        self.rollout = rollout
        candidate = directory + "/candidate"
        approved = directory + "/approved"
    }

    /// Whether a revision is under way (new changes wait for it).
    var isBusy: Bool {
        switch phase {
        case .canary, .pausing, .rolling: return true
        case .idle, .held, .halted: return false
        }
    }
}
