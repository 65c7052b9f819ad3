import RunnerSystem

/// A coordinated pipeline's part in its leader election (`settings.coordination`): the claim
/// kept by `LeaderLoop`, the rollout's state in etcd, and the token every session's hello
/// carries. The pipeline acts only while it leads: it watches, cuts and pushes in a term
/// (the leader key's create_revision), and stands down the moment its lease may have run
/// out. Lives on the run loop's thread.
final class SenderLead {
    let settings: CoordinationSettings
    let loop: LeaderLoop
    /// The state in etcd; its calls block at most `client.timeout`, never longer than a
    /// fraction of the lease.
    let store: EtcdRolloutStore
    /// What this sender's hellos carry: the term while it leads.
    let token: FencingToken
    /// Operators' commands waiting in etcd, and those this sender answered already.
    let inbox: OperatorInbox
    var answered: Set<String> = []
    /// The term this pipeline pushes in; nil while it stands by.
    var term: UInt64?
    /// When a takeover that could not read etcd is tried again.
    var takeOverAgainAt: Double?
    /// Why the last write of the state to etcd failed (said once until one succeeds), and
    /// when: writes wait a second after a failure, so a run of answers does not wait on etcd
    /// once per answer.
    var saveError: String?
    var saveFailedAt = -Double.infinity
    /// When what changed since the last write goes to etcd (hosts' answers are written behind).
    var writeBehindAt: Double?
    /// Events of the rollout's history not in etcd's audit yet.
    var audit: [RolloutEvent] = []
    /// Why this sender stopped pushing last, for the page and /healthz (nil while it pushes,
    /// and while it only stands by behind a leader that is up).
    var stoppedWhy: String?
    /// Revisions' identities across senders, by number.
    var identities: [Int: String] = [:]
    /// The leader a standby last said it stands by for.
    var announced: String?

    init(_ settings: CoordinationSettings, pipeline: String) throws(SystemError) {
        self.settings = settings
        let timeout = min(2, Double(settings.lease) / 4)
        loop = try LeaderLoop(
            endpoints: settings.endpoints, pipeline: pipeline, name: settings.name, ttl: settings.lease,
            timeout: timeout)
        store = EtcdRolloutStore(
            client: EtcdClient(endpoints: settings.endpoints, timeout: timeout), pipeline: pipeline,
            author: settings.name)
        token = FencingToken()
        inbox = try OperatorInbox(endpoints: settings.endpoints, pipeline: pipeline, timeout: timeout)
    }

    deinit {
        inbox.stop()
        loop.stop(resign: true)
    }

    /// Whether a push may start (or commit) now: in a term, within its lease.
    var mayPush: Bool { term != nil && loop.mayPush() }
}
