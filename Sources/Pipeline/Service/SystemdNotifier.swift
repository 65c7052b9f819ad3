import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// sd_notify(3), written directly (no libsystemd): each message is one datagram of
/// `KEY=value` lines to the unix socket `$NOTIFY_SOCKET` names (a leading `@` is the
/// abstract namespace). Also the watchdog's rhythm: `WATCHDOG=1` every half of
/// `$WATCHDOG_USEC`, when `$WATCHDOG_PID` is unset or this process.
public final class SystemdNotifier {
    private let socket: UnixDatagramSocket
    /// Seconds between watchdog pings; nil without a watchdog.
    public let watchdogInterval: Double?
    private var nextPing: Double?

    /// A notifier for the socket in `environment`; nil when there is none (not under
    /// systemd, or a `Type=` that does not listen).
    public init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], let socket = UnixDatagramSocket(path: path) else { return nil }
        self.socket = socket
        let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if pidMatches, let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0 {
            watchdogInterval = usec / 2_000_000
            nextPing = MonotonicClock.now
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends one message (`READY=1`, `STATUS=…`); a failure is ignored, as sd_notify's is:
    /// the service goes on whether or not systemd heard.
    public func send(_ fields: [String]) {
        let text = fields.map { String($0.map { $0 == "\n" ? " " : $0 }) }.joined(separator: "\n") + "\n"
        socket.send(Array(text.utf8))
    }

    /// When the next watchdog ping is due.
    public var deadline: Double? { nextPing }

    /// Pings the watchdog if it is due.
    public func pingIfDue(now: Double) {
        guard let interval = watchdogInterval, let due = nextPing, now >= due else { return }
        send(["WATCHDOG=1"])
        nextPing = now + interval
    }

    /// `MONOTONIC_USEC=` for `RELOADING=1`: CLOCK_MONOTONIC in microseconds, as systemd reads it.
    public static var monotonicMicroseconds: UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
