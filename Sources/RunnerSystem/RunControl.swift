import CLinux
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Requests to stop (SIGINT, SIGTERM) or to reload (SIGHUP), as flags for code in the
/// middle of a batch and a descriptor the loops poll.
///
/// The signals are blocked and read from a signalfd rather than caught by a handler
/// thread: the process stays single-threaded, so `runner serve` can fork a session
/// safely, and no code ever runs in a signal context.
public final class RunControl: Sendable {
    private let stop = Atomic<Bool>(false)
    private let reload = Atomic<Bool>(false)
    private let abandoned = Atomic<Bool>(false)
    /// The signalfd, for `poll`: readable while a signal is pending.
    public let readDescriptor: Int32
    private let logger: Logger

    private static var trapped: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        return set
    }

    /// Takes over SIGINT, SIGTERM and SIGHUP for the process, and ignores SIGPIPE (a
    /// peer that went away is an error on its connection, not a death). Create it on
    /// the main thread before any other thread starts, so that every thread inherits
    /// the blocked mask.
    public init(logger: Logger) {
        self.logger = logger
        signal(SIGPIPE, SIG_IGN)
        var set = RunControl.trapped
        pthread_sigmask(SIG_BLOCK, &set, nil)
        readDescriptor = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        if readDescriptor < 0 { fatalError("signalfd: \(String(cString: strerror(errno)))") }
    }

    deinit { close(readDescriptor) }

    /// Whether a stop was requested.
    public var isStopRequested: Bool {
        drain()
        return stop.load(ordering: .sequentiallyConsistent)
    }

    /// Whether work under way must stop now rather than finish: a second stop signal
    /// came, or the stop's time ran out (`abandon`). Readable from any thread.
    public var isAbandoned: Bool {
        abandoned.load(ordering: .sequentiallyConsistent)
    }

    /// Gives up on the work under way (the stop's time ran out).
    public func abandon() { abandoned.store(true, ordering: .sequentiallyConsistent) }

    /// Whether a reload was requested since the last call.
    public func takeReloadRequest() -> Bool {
        drain()
        return reload.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// In a child forked from this process: the signals behave as by default again.
    public func releaseInChild() {
        var set = RunControl.trapped
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        close(readDescriptor)
    }

    private func drain() {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while read(readDescriptor, &info, size) == size {
            let sig = Int32(info.ssi_signo)
            if sig == SIGHUP {
                reload.store(true, ordering: .sequentiallyConsistent)
            } else if stop.exchange(true, ordering: .sequentiallyConsistent) {
                logger.notice("signal \(sig == SIGINT ? "SIGINT" : "SIGTERM") again: stopping now")
                abandon()
            } else {
                logger.notice("signal \(sig == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
            }
        }
    }
}
