import FoundationEssentials

/// One `pipeline "name" { ... }`: what to watch, what to drop, where to send it.
public struct PipelineConfig: Sendable {
    /// Sender credentials (`auth = { user = ..., secret_file = ... }`).
    public struct Auth: Sendable, Equatable {
        /// The user the receiver knows.
        public var user: String
        /// A file holding the bare secret, mode 0600.
        public var secretFile: String
        /// Sender credentials.
        public init(user: String, secretFile: String) {
            self.user = user
            self.secretFile = secretFile
        }
    }

    /// One destination of the pipeline: the URI and the group it came from (if any).
    public struct Destination: Sendable, Equatable {
        /// Where to send.
        public var uri: TargetURI
        /// The group that named it, or nil when `to` named the URI directly.
        public var group: String?
        /// Variables of that group.
        public var vars: [String: String]
        /// A destination.
        public init(uri: TargetURI, group: String?, vars: [String: String] = [:]) {
            self.uri = uri
            self.group = group
            self.vars = vars
        }
    }

    /// How a batch rolls out across each group's hosts.
    public struct RolloutSettings: Sendable, Equatable {
        /// Hosts of a group that get a batch first; the rest get it only once they applied
        /// it with their actions passing (0: all at once).
        public var canaries = 0
        /// A group halts when more of its hosts than this fail a batch (nil: never).
        public var maxFailures: Int?
        /// Seconds between the canaries' success and the rest.
        public var pause: Double = 0

        /// `rollout = "all"`: every host at once.
        public static let all = RolloutSettings()
        /// `rollout = "canary"`: one canary, halt at the first failure.
        public static let canary = RolloutSettings(canaries: 1, maxFailures: 0)

        /// A roll-out.
        public init(canaries: Int = 0, maxFailures: Int? = nil, pause: Double = 0) {
            self.canaries = canaries
            self.maxFailures = maxFailures
            self.pause = pause
        }

        /// Whether a group's hosts get revisions one at a time from kept snapshots.
        public var isStaged: Bool { canaries > 0 || maxFailures != nil }
    }

    /// How `ssh://` targets are reached.
    public struct SSH: Sendable, Equatable {
        /// The ssh command and its options (`ssh -i key`).
        public var command: [String] = ["ssh"]
        /// The runner binary on the far side.
        public var runner: String = "runner"
        /// The receiver script on the far side.
        public var receiver: String = "/etc/runner/receiver.lua"
        /// Defaults.
        public init() {}
    }

    /// The pipeline's name.
    public var name: String
    /// The watched directory, absolute and without a trailing slash.
    public var source: String
    /// When the pipeline's source is a single file: its name in `source` (the
    /// parent directory is watched and everything else in it is left alone).
    public var sourceFile: String?
    /// Ignore rules in the order written (last match wins).
    public var ignore: [IgnoreRule]
    /// Seconds of quiet before a batch is cut.
    public var delay: Double
    /// Seconds after the first change at which a batch is cut even if changes keep coming, and
    /// the longest quiet a burst of changes earns (`Coalescer`).
    public var maxDelay: Double
    /// Seconds between scans of directories that could not be watched (watch limit).
    public var scanInterval: Double
    /// The destinations, groups expanded, in order, without duplicates.
    public var destinations: [Destination]
    /// Sender credentials for `runner://` and `ssh://` targets.
    public var auth: Auth?
    /// Delete files on the targets that are gone from the source.
    public var delete: Bool
    /// Owners go as numbers, not names mapped on the receiver (`numeric_ids`, rsync's
    /// `--numeric-ids`).
    public var numericIDs = false
    /// How `ssh://` targets are reached.
    public var ssh = SSH()
    /// Which files are templates (`render = { "*.conf" }`, gitignore-style patterns).
    public var render: [IgnoreRule] = []
    /// Whether `render` is a Lua function (every file passes through it).
    public var hasRenderFunction = false
    /// How batches roll out across each group.
    public var rollout = RolloutSettings.all
    /// Hosts served at once (a sliding window).
    public var maxParallel = 16
    /// Seconds each step with a host (connect, handshake, every read and write) may wait for progress.
    public var timeout: Double = 10
    /// Seconds before a failed host is tried again, doubling with each failure in a row.
    public var retryInitial: Double = 1
    /// The longest wait between attempts.
    public var retryMax: Double = 60
    /// Revisions kept in the log besides those a group or a host still points at.
    public var keepRevisions = 100
    /// Groups whose every revision waits for `runner approve` (`approve` on the pipeline, or
    /// on the group).
    public var approve = Set<String>()
    /// A revision that changes more than this waits for approval (`guard`).
    public var massChangeGuard: MassChangeGuard?
    /// Where each group's outcome of a revision is POSTed (`notify`).
    public var notify: NotifySettings?
    /// Whether an `on_group` callback is set.
    public var hasOnGroup = false
    /// Files whose content is never shown (`secret = { "*.env" }`): diffs say how many bytes
    /// changed.
    public var secret: [IgnoreRule] = []
    /// Whether a `check` callback is set.
    public var hasCheck: Bool
    /// Whether an `after` callback is set.
    public var hasAfter: Bool
    /// Where the pipeline was declared.
    public var location: SourceLocation

    /// A pipeline with defaults for what is not given.
    public init(
        name: String, source: String, sourceFile: String? = nil, ignore: [IgnoreRule] = [], delay: Double = 0.2,
        maxDelay: Double? = nil, scanInterval: Double = 10,
        destinations: [Destination], auth: Auth? = nil, delete: Bool = false,
        hasCheck: Bool = false, hasAfter: Bool = false, location: SourceLocation
    ) {
        self.name = name
        self.source = source
        self.sourceFile = sourceFile
        self.scanInterval = scanInterval
        self.ignore = ignore
        self.delay = delay
        self.maxDelay = maxDelay ?? max(10, delay * 10)
        self.destinations = destinations
        self.auth = auth
        self.delete = delete
        self.hasCheck = hasCheck
        self.hasAfter = hasAfter
        self.location = location
    }
}
