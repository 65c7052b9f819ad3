/// What the rollout knows of one host: the revision it confirmed, the one under way to it,
/// the one it refused, whether it answers, and when it may be tried again. The only place
/// a host's state is kept; the rollout machine changes it, everything else reads it.
public struct HostState: Sendable, Equatable {
    /// A delivery under way.
    public struct Sending: Sendable, Equatable {
        /// The revision it brings the host to, and the one the host was at (nil: unknown,
        /// a whole comparison).
        public var revision: Int
        public var from: Int?
        /// When it started (the machine's clock).
        public var since: Double
        /// Sent to the host as its group's canary: its answer decides the group's approval.
        public var asCanary: Bool
    }

    /// The target URI, which names the host across restarts and reloads.
    public let uri: String
    /// Its group (an index into `Rollout.groups`).
    public let group: Int
    /// The revision it confirmed; nil when unknown (never synced, or a session lost mid-batch):
    /// the next delivery compares the whole tree.
    public internal(set) var applied: Int?
    public internal(set) var sending: Sending?
    /// The newest revision it refused (an action rolled it back, or its templates would not
    /// render): never sent to it again; the next revision is.
    public internal(set) var refused: Int?
    /// Why, for the status.
    public internal(set) var refusal: String?
    /// Whether the last attempt reached it; nil before the first.
    public internal(set) var reachable: Bool?
    /// Failed attempts in a row, and when the next may start.
    public internal(set) var failures = 0
    public internal(set) var notBefore: Double?
    /// Why the last attempt failed, until one succeeds.
    public internal(set) var lastError: String?
    /// `--once`: it failed and is not tried again.
    public internal(set) var givenUp = false
    /// What its templates are rendered with (nil: none): remembered, and when it differs from
    /// what was remembered, the host is compared whole.
    public let renderKey: String?

    init(uri: String, group: Int, renderKey: String?) {
        self.uri = uri
        self.group = group
        self.renderKey = renderKey
    }
}
