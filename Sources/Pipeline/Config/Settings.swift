#if canImport(Glibc)
    import Glibc
#endif

/// Process-wide settings from `settings { ... }`.
public struct Settings: Sendable, Equatable {
    /// Log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    /// Where a sender keeps its state (revisions, render caches, group snapshots), created
    /// on use (see `defaultStateDirectory`).
    public var stateDirectory: String = Settings.defaultStateDirectory
    /// Receiver: the address `runner serve` listens on; a sender with `dial://` targets: the
    /// address their receivers dial.
    public var listen: String = "0.0.0.0:\(TargetURI.defaultRunnerPort)"
    /// Whether the script set `listen` (a receiver whose modules all dial listens only then).
    public var listenGiven = false
    /// Receiver: the most connections served at once.
    public var maxConnections: Int = 50
    /// Receiver: seconds a new connection has to complete its hello (and auth), in all.
    public var handshakeTimeout: Double = 5
    /// Receiver: connections not authenticated yet (sshd's MaxStartups, PerSourceMaxStartups).
    public var startups = StartupLimits()
    /// Receiver: seconds a connection may stay silent between requests.
    public var idleTimeout: Double = 300

    /// The status address (`host:port`) answering `/`, `/status`, `/metrics` and `/healthz`; nil: none.
    public var status: String?
    /// A file the metrics are also written to (temporary file and rename), for
    /// node-exporter's textfile collector.
    public var metricsFile: String?
    /// Seconds a host may stay behind before `/healthz` answers 503.
    public var behindLimit: Double = 300
    /// Sender: seconds a stop (SIGTERM) may take to send what is pending.
    public var stopTimeout: Double = 10
    /// Sender: the `name:secret` file (mode 0600) of the receivers that dial in.
    public var dialSecrets: String?
    /// Sender: the etcd cluster and this sender's name, when two senders share the pipelines.
    public var coordination: CoordinationSettings?

    /// Default settings.
    public init() {}

    /// The default `state_dir`: `$XDG_STATE_HOME/runner` when that is set, else
    /// `/var/lib/runner` for root and `~/.local/state/runner` for others.
    public static var defaultStateDirectory: String {
        if let xdg = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/runner"
        }
        if geteuid() == 0 { return "/var/lib/runner" }
        return (getenv("HOME").map { String(cString: $0) } ?? "/tmp") + "/.local/state/runner"
    }

    /// The log levels `log` accepts.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
}
