import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Drives pipelines on one thread: polls their inotify descriptors and the control
/// pipe, cuts batches when their deadlines come, and reloads on request.
public final class RunLoop {
    private var pipelines: [PipelineRunner]
    private let control: RunControl
    private let logger: Logger
    private let reload: (() throws -> [PipelineRunner])?

    /// A loop over pipelines; `reload` builds fresh ones from the configuration (SIGHUP).
    public init(
        pipelines: [PipelineRunner], control: RunControl, logger: Logger,
        reload: (() throws -> [PipelineRunner])? = nil
    ) {
        self.pipelines = pipelines
        self.control = control
        self.logger = logger
        self.reload = reload
    }

    /// `--once`: one full sync of every pipeline. Returns whether all targets succeeded.
    public func runOnce() -> Bool {
        var ok = true
        for p in pipelines where !control.isStopRequested {
            ok = p.initialSync(control: control, untilSettled: true) && ok
        }
        for p in pipelines { p.disconnect() }
        return ok && !control.isStopRequested
    }

    /// The service: watch, initial sync, then batches until a stop is requested.
    public func run() throws(WatchError) {
        try start(pipelines)
        logger.info("ready", metadata: ["pipelines": "\(pipelines.count)"])
        while !control.isStopRequested {
            var fds = [pollfd(fd: control.readDescriptor, events: Int16(POLLIN), revents: 0)]
            for p in pipelines {
                for fd in [p.fileDescriptor].compactMap({ $0 }) + p.wakeDescriptors {
                    fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                }
            }
            let now = MonotonicClock.now
            let next = pipelines.compactMap(\.deadline).min()
            let timeout: Int32 = next.map { Int32(max(0, min(60_000, ceil(($0 - now) * 1000)))) } ?? 60_000
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR {
                logger.error("poll failed: \(String(cString: strerror(errno)))")
                return
            }
            if control.isStopRequested { break }
            if control.takeReloadRequest() {
                reloadConfiguration()
                continue
            }
            let after = MonotonicClock.now
            for p in pipelines {
                if let fd = p.fileDescriptor, fds.contains(where: { $0.fd == fd && $0.revents != 0 }) {
                    p.readEvents(now: after)
                }
                if fds.contains(where: { p.wakeDescriptors.contains($0.fd) && $0.revents != 0 }) {
                    p.serviceWakeups(now: after, control: control)
                }
            }
            for p in pipelines {
                p.flushIfDue(now: MonotonicClock.now, control: control)
            }
        }
        logger.info("stopping")
        for p in pipelines { p.finish(control: control, timeout: 10) }
    }

    /// Watches first, then the initial sync, so that nothing changed during the sync is missed.
    private func start(_ runners: [PipelineRunner]) throws(WatchError) {
        for p in runners { try p.startWatching() }
        for p in runners where !control.isStopRequested { p.initialSync(control: control) }
    }

    /// SIGHUP: the new configuration takes over only if it loads and its watches
    /// start; otherwise the running one goes on. Changes pending in the old
    /// pipelines are covered by the new ones' initial sync.
    private func reloadConfiguration() {
        guard let reload else { return }
        logger.notice("SIGHUP: reloading the configuration")
        do {
            let fresh = try reload()
            try start(fresh)
            for p in pipelines { p.finish(control: control, timeout: 10) }
            pipelines = fresh
            logger.notice("reloaded", metadata: ["pipelines": "\(fresh.count)"])
        } catch {
            logger.error("reload failed; the running configuration stays: \(error)")
        }
    }
}
