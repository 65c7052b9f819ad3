/// What one revision came to in one group, once: what `notify` POSTs and `on_group` gets.
public struct GroupOutcome: Codable, Sendable, Equatable {
    /// One host's part.
    public struct HostLine: Codable, Sendable, Equatable {
        public var host: String
        /// `applied`, `refused`, `failed`, `unreachable`, or `not sent` (held at the canary,
        /// or waiting for approval).
        public var state: String
        public var message: String?
        /// Its actions' last lines (`name: summary`, then up to five lines of output).
        public var actions: [String]

        /// A host's line.
        public init(host: String, state: String, message: String? = nil, actions: [String] = []) {
            self.host = host
            self.state = state
            self.message = message
            self.actions = actions
        }
    }

    public var pipeline: String
    public var group: String
    public var revision: Int
    /// `applied`, `failed`, `held` or `waiting` (`NotifySettings.Event`).
    public var event: String
    public var why: String?
    public var author: String
    /// Wall-clock seconds since the epoch of the revision's cut.
    public var cut: Double
    /// The paths it changed (the first 100) and how many.
    public var paths: [String]
    public var changed: Int
    public var hosts: [HostLine]

    /// An outcome.
    public init(
        pipeline: String, group: String, revision: Int, event: String, why: String?, author: String, cut: Double,
        paths: [String], changed: Int, hosts: [HostLine]
    ) {
        self.pipeline = pipeline
        self.group = group
        self.revision = revision
        self.event = event
        self.why = why
        self.author = author
        self.cut = cut
        self.paths = paths
        self.changed = changed
        self.hosts = hosts
    }
}
