/// One `module "name" { ... }` of a receiver: a served directory and what runs after a sync.
public struct ReceiverModule: Sendable {
    /// An entry of `on_sync`: an action spec table (`{ kind = "...", ... }`) or a Lua function.
    public enum Action: Sendable, Equatable {
        /// A native action by kind, with its parameters.
        case spec(kind: String, parameters: [String: ActionValue])
        /// A Lua function (number `index` among the module's functions), by where it was defined.
        case function(index: Int, SourceLocation?)
    }

    /// A parameter of an action spec, as Lua wrote it: a string, a number, a boolean, a
    /// list of strings, or a map of strings.
    public enum ActionValue: Sendable, Equatable {
        case text(String)
        case number(Double)
        case flag(Bool)
        case list([String])
        case map([String: String])
    }

    /// The module's name, as targets name it.
    public var name: String
    /// The served directory, absolute.
    public var path: String
    /// Users allowed to push.
    public var authUsers: [String]
    /// The `user:secret` file, mode 0600.
    public var secrets: String?
    /// Addresses or CIDR blocks allowed to connect (empty: all), parsed at load.
    public var hostsAllow: [AddressRule]
    /// Addresses or CIDR blocks refused.
    public var hostsDeny: [AddressRule]
    /// Refuse writes.
    public var readOnly: Bool
    /// Sync every commit to disk (staged files, journal, directories): a batch then
    /// survives a power loss, not only a crash, at about a millisecond per batch.
    public var fsync: Bool = false
    /// What runs after each applied batch, in order.
    public var onSync: [Action]
    /// Seconds a Lua function of `on_sync` may run before it is stopped (and fails).
    public var functionTimeout: Double = 30
    /// What a batch may do with symlinks (`symlinks = "safe" | "keep" | "refuse"`).
    public var symlinks = SymlinkPolicy.safe
    /// `on_sync_when = "always"`: the actions run after every batch, even one that changed
    /// nothing; by default only after one that changed content, a mode, a link or an entry.
    public var onSyncAlways = false
    /// `owner`: the user every entry the module writes gets, whatever the sender's was
    /// (rsyncd's `uid`, `rsync --chown`); nil: the sender's, mapped by name.
    public var owner: UInt32?
    /// `group`: the group every entry gets; nil: the sender's, mapped by name.
    public var group: UInt32?
    /// `upstream`: the sender this module dials (it cannot reach the receiver), or nil.
    public var upstream: Upstream?

    /// A sender a module dials, behind NAT or a firewall that lets only outbound
    /// connections through: it serves the module over that connection as `runner serve`
    /// serves one it accepted.
    public struct Upstream: Sendable, Equatable {
        /// `runner://host:port/PIPELINE`: the sender's listen address and its pipeline.
        public var url: TargetURI
        /// The name the module dials as (the sender's `dial://NAME/module`).
        public var name: String
        /// The file holding the name's secret (mode 0600), read at each dial.
        public var secretFile: String

        public init(url: TargetURI, name: String, secretFile: String) {
            (self.url, self.name, self.secretFile) = (url, name, secretFile)
        }
    }

    /// Symlinks a sender may put in the module. Whatever reads the module follows them
    /// (php-fpm includes `pool.d/*.conf` as root), so a link out of it is a leak.
    public enum SymlinkPolicy: String, Sendable, CaseIterable {
        /// Links whose destination stays inside the module; one that leaves it (absolute
        /// outside the module's path, or `..` above its root) refuses the batch.
        case safe
        /// Any link, as sent.
        case keep
        /// No link at all.
        case refuse
    }
    /// Where the module was declared.
    public var location: SourceLocation

    /// A module.
    public init(
        name: String, path: String, authUsers: [String] = [], secrets: String? = nil, hostsAllow: [AddressRule] = [],
        hostsDeny: [AddressRule] = [], readOnly: Bool = false, onSync: [Action] = [], location: SourceLocation
    ) {
        self.name = name
        self.path = path
        self.authUsers = authUsers
        self.secrets = secrets
        self.hostsAllow = hostsAllow
        self.hostsDeny = hostsDeny
        self.readOnly = readOnly
        self.onSync = onSync
        self.location = location
    }
}
