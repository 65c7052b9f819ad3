/// Process-wide settings from `settings { ... }`.
public struct Settings: Sendable, Equatable {
    /// Log level: trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    /// Receiver: the address `runner serve` listens on.
    public var listen: String = "0.0.0.0:\(TargetURI.defaultRunnerPort)"
    /// Receiver: the most connections served at once.
    public var maxConnections: Int = 50
    /// Receiver: seconds a new connection has to complete its hello (and auth).
    public var handshakeTimeout: Double = 10
    /// Receiver: seconds a connection may stay silent between requests.
    public var idleTimeout: Double = 300

    /// Default settings.
    public init() {}

    /// The log levels `log` accepts.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
}
