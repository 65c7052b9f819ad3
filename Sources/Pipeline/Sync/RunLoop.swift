import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Drives pipelines on one thread: polls their inotify descriptors, the signals and its
/// companion (the service face), cuts batches when their deadlines come, reloads on
/// request, and on a stop sends what is pending before it returns.
public final class RunLoop {
    /// The pipelines served now (a reload replaces them).
    public private(set) var pipelines: [PipelineRunner]
    private let control: RunControl
    private let logger: Logger
    private let reload: (() throws -> [PipelineRunner])?
    /// Seconds a stop may take to send what is pending.
    private let stopTimeout: Double
    /// Polled with the pipelines, and told of READY, reloads and the stop.
    public var companion: (any LoopCompanion)?

    /// A loop over pipelines; `reload` builds fresh ones from the configuration (SIGHUP).
    public init(
        pipelines: [PipelineRunner], control: RunControl, logger: Logger, stopTimeout: Double = 10,
        reload: (() throws -> [PipelineRunner])? = nil
    ) {
        self.pipelines = pipelines
        self.control = control
        self.logger = logger
        self.stopTimeout = stopTimeout
        self.reload = reload
    }

    /// `--once`: one full sync of every pipeline. Returns whether all targets succeeded.
    public func runOnce() -> Bool {
        var ok = true
        for p in pipelines where !control.isStopRequested {
            ok = p.initialSync(control: control, untilSettled: true) && ok
        }
        if control.isStopRequested { control.abandon() }
        for p in pipelines { p.finish(control: control, timeout: 10) }
        return ok && !control.isStopRequested
    }

    /// The service: watch, initial sync, then batches until a stop is requested; then
    /// what was seen and is pending goes out (within `stopTimeout`).
    public func run() throws(WatchError) {
        try start(pipelines)
        var ready = false
        // A second after the last event, the heap's free memory goes back (a burst of
        // changes leaves megabytes freed in malloc's arenas).
        var giveBackAt: Double?
        while !control.isStopRequested {
            if !ready, pipelines.allSatisfy({ $0.initialSyncAttempted(now: MonotonicClock.now) }) {
                // Every host's first sync came back (a host that is down fails fast, a hung
                // one at its timeout): the service is up.
                ready = true
                logger.info("ready", metadata: ["pipelines": "\(pipelines.count)"])
                companion?.moment(.ready)
                CodePages.releaseStartup()
            }
            var fds = [pollfd(fd: control.readDescriptor, events: Int16(POLLIN), revents: 0)]
            for p in pipelines {
                for fd in [p.fileDescriptor].compactMap({ $0 }) + p.wakeDescriptors {
                    fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                }
            }
            fds += companion?.pollRequests ?? []
            let now = MonotonicClock.now
            // Until ready, a look every quarter second (a hung host's grace runs out).
            let next =
                (pipelines.compactMap(\.deadline)
                + [companion?.deadline, ready ? nil : now + 0.25, giveBackAt].compactMap { $0 })
                .min()
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
            if n > 0 {
                giveBackAt = after + 1
            } else if let at = giveBackAt, after >= at {
                AllocatorTuning.giveBackFreeMemory()
                giveBackAt = nil
            }
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
            companion?.serve(fds, now: MonotonicClock.now)
        }
        logger.info("stopping: sending what is pending (at most \(MonotonicClock.text(seconds: stopTimeout)))")
        companion?.moment(.stopping(timeout: stopTimeout))
        let deadline = MonotonicClock.now + stopTimeout
        for p in pipelines { p.flush(control: control, until: deadline) }
    }

    /// Watches first, then the initial sync, so that nothing changed during the sync is missed.
    private func start(_ runners: [PipelineRunner]) throws(WatchError) {
        for p in runners { try p.startWatching() }
        for p in runners where !control.isStopRequested { p.initialSync(control: control) }
    }

    /// SIGHUP: the new configuration takes over only if it loads and its watches start;
    /// otherwise the running one goes on. The running pipelines first finish what is under
    /// way and remember where every host is, so the new ones start from there; changes the
    /// old ones saw and had not cut are in the new ones' start-up comparison.
    private func reloadConfiguration() {
        guard let reload else { return }
        logger.notice("SIGHUP: reloading the configuration")
        companion?.moment(.reloading)
        for p in pipelines { p.finish(control: control, timeout: 10) }
        do {
            let fresh = try reload()
            try start(fresh)
            pipelines = fresh
            logger.notice("reloaded", metadata: ["pipelines": "\(fresh.count)"])
            companion?.moment(.reloaded(refused: nil))
        } catch {
            logger.error("reload failed; the running configuration stays: \(error)")
            for p in pipelines { p.resume(control: control) }
            companion?.moment(.reloaded(refused: "\(error)"))
        }
    }
}
