#if canImport(Glibc)
    import Glibc
#endif

/// What a service's poll loop (`runner run`'s, `runner serve`'s) carries besides its own
/// work: the service face, whose descriptors it polls and which it tells of the moments
/// systemd cares about. The loop knows only this protocol, not what answers it.
public protocol LoopCompanion: AnyObject {
    /// Descriptors to poll, with the events wanted.
    var pollRequests: [pollfd] { get }
    /// When it next needs the loop, whatever the descriptors do (a watchdog ping).
    var deadline: Double? { get }
    /// Called on every turn of the loop with the polled descriptors' results (its own among them).
    func serve(_ polled: [pollfd], now: Double)
    /// A moment of the service's life.
    func moment(_ moment: LoopMoment)
}

/// The moments of a service's life its companion hears of.
public enum LoopMoment: Sendable, Equatable {
    /// Watching and every host's first sync attempted (sender), or listening (receiver).
    case ready
    /// A reload (SIGHUP) began.
    case reloading
    /// The reload ended; `refused` says why the new script was not taken.
    case reloaded(refused: String?)
    /// A stop began; it takes at most `timeout` seconds.
    case stopping(timeout: Double)
}
